// GridBot: a tiny viewer for gridctl's real-grid tests, built on the real viewer library
// (libopenmetaverse, the OpenMetaverse*.dll that OpenSim ships in bin/).
//
// Each login attempt does what a viewer does:
//   1. login    GridClient.Network.Login: XML-RPC login_to_simulator to the grid's login
//               service, then the UDP circuit (UseCircuitCode, CompleteAgentMovement) and the
//               region handshake;
//   2. root     waits for AgentMovementComplete (the simulator made the agent a root agent)
//               and the region handshake; root_ms counts from the start of the login to the
//               later of the two packets (so root_ms may be below login_ms: libomv's Login
//               returns after the handshake, and the movement usually completes by then);
//   3. caps     waits for the seed capability's answer (FetchInventoryDescendents2, GetTexture)
//               and for the event queue to be polling;
//   4. inventory POSTs the root folder to the simulator's FetchInventoryDescendents2 capability
//               (HTTP, never the UDP FetchInventoryDescendents packet) and counts the folders
//               and items that came back (the simulator asks the grid's inventory service);
//   5. texture  GETs a texture through the simulator's GetTexture capability (the simulator
//               asks the grid's asset service unless its cache has it) and counts the bytes;
//   6. logout   LogoutRequest, waits for LogoutReply (or, as OpenSim 0.9.2.2 sometimes never
//               sends it, for the simulator closing our event queue) and the circuit's shutdown;
//               logout_via tells which.
//
// Output: exactly one JSON line per attempt on stdout, nothing else (libomv's own logging is
// silenced and anything else written to Console.Out goes to stderr). Exit 0 when every attempt
// succeeded, 1 otherwise, 2 on bad arguments. Every wait has a timeout and a watchdog ends the
// process if an attempt overruns all of them together, so it never hangs.
//
// Build:  mcs -out:GridBot.exe -r:OpenMetaverse.dll -r:OpenMetaverseTypes.dll \
//             -r:OpenMetaverse.StructuredData.dll GridBot.cs      (DLLs from OpenSim's bin/)
// Run:    MONO_PATH=<bin> mono GridBot.exe --login http://127.0.0.1:8002/ --first Test \
//             --last User --password secret [--start REGION] [--texture UUID] [--times N]
//             [--seconds S] [--timeout-ms T] [--pause-ms P] [--hold-ms H]
//             [--presence-retries R] [--stop-file F] [--verbose]
//   --times N      N logins one after the other (default 1 unless --seconds is given);
//   --seconds S    keep starting logins until S seconds have passed (with --times: whichever
//                  comes first); the attempt in progress always finishes;
//   --stop-file F  start no further login once the file F exists (a test ends a loop
//                  whose length is what the test does meanwhile; --seconds still bounds it);
//   --timeout-ms T the limit of each phase (default 30000);
//   --pause-ms P   sleep P ms between attempts (default 0);
//   --hold-ms H    stay in-world H ms after the texture fetch, before logging out (default 0);
//   --presence-retries R  retry a login refused as "already logged in" (reason presence) up
//                  to R times, 500 ms apart (default 1; login_retries counts them, login_ms is
//                  the last try's);
//   --start REGION log in to REGION (uri:REGION&128&128&25) instead of "last";
//   --texture UUID the texture to fetch (default: the plywood texture every grid has);
//   --verbose      libomv's log and the bot's phases on stderr.
// Run it from a scratch cwd: it writes no file (libomv's asset cache is turned off).

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using OpenMetaverse;
using OpenMetaverse.Http;
using OpenMetaverse.Packets;
using OpenMetaverse.StructuredData;

public static class GridBot
{
    // The plywood texture: one of the default assets every OpenSim grid's asset service loads
    // (assets/TexturesAssetSet), and the default texture of new prims.
    const string DefaultTexture = "89556747-24cb-43ed-920b-47caed15465f";

    class Options
    {
        public string Login, First, Last, Password, Start;
        public UUID Texture = new UUID(DefaultTexture);
        public int Times = -1;          // -1: not given
        public double Seconds = -1;     // -1: not given
        public int TimeoutMs = 30000;
        public int PauseMs = 0;
        public int HoldMs = 0;
        public int PresenceRetries = 1;
        public int PresenceRetryMs = 500;
        public bool Verbose;
        public string StopFile;         // null: not given
    }

    class Attempt
    {
        public int N;
        public bool Ok;
        public long? LoginMs, RootMs, CapsMs, InventoryMs, TextureMs, LogoutMs;
        public int? InventoryEntries;
        public long? TextureBytes;
        public string Error;
        public string Region;       // the region the agent arrived in (RegionHandshake)
        public int LoginRetries;    // logins retried after a "presence" refusal
        public string LogoutVia;    // "LogoutReply" or "event_queue_closed"
        public List<string> Alerts = new List<string>();   // AlertMessage texts received

        public string ToJson()
        {
            var sb = new StringBuilder();
            sb.Append("{\"n\":").Append(N);
            sb.Append(",\"ok\":").Append(Ok ? "true" : "false");
            sb.Append(",\"region\":").Append(Region == null ? "null" : JsonString(Region));
            Num(sb, "login_ms", LoginMs);
            Num(sb, "login_retries", LoginRetries);
            Num(sb, "root_ms", RootMs);
            Num(sb, "caps_ms", CapsMs);
            Num(sb, "inventory_ms", InventoryMs);
            Num(sb, "inventory_entries", InventoryEntries);
            Num(sb, "texture_ms", TextureMs);
            Num(sb, "texture_bytes", TextureBytes);
            Num(sb, "logout_ms", LogoutMs);
            sb.Append(",\"logout_via\":").Append(LogoutVia == null ? "null" : JsonString(LogoutVia));
            sb.Append(",\"alerts\":[");
            lock (Alerts)
                for (int i = 0; i < Alerts.Count; i++)
                    sb.Append(i == 0 ? "" : ",").Append(JsonString(Alerts[i]));
            sb.Append(']');
            sb.Append(",\"error\":").Append(Error == null ? "null" : JsonString(Error));
            sb.Append('}');
            return sb.ToString();
        }

        static void Num(StringBuilder sb, string key, long? v)
        {
            sb.Append(",\"").Append(key).Append("\":");
            sb.Append(v.HasValue ? v.Value.ToString(CultureInfo.InvariantCulture) : "null");
        }
    }

    static TextWriter Out;                 // the real stdout: JSON lines only
    static readonly object OutLock = new object();
    static bool Verbose;

    // Watchdog state: the attempt in progress, its phase and its deadline.
    static readonly object WatchLock = new object();
    static Attempt Current;
    static string CurrentPhase = "start";
    static DateTime Deadline = DateTime.MaxValue;
    static bool Finished;

    public static int Main(string[] args)
    {
        // Keep the real stdout for the JSON lines; everything else that writes to Console.Out
        // (log4net's default console appender, stray WriteLines) goes to stderr.
        Out = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
        ((StreamWriter)Out).AutoFlush = true;
        Console.SetOut(Console.Error);

        // Silence libomv before anything touches its Logger (its static constructor reads this).
        Settings.LOG_LEVEL = Helpers.LogLevel.None;

        Options o;
        try { o = Parse(args); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine("GridBot: " + e.Message);
            Console.Error.WriteLine("usage: GridBot.exe --login URI --first F --last L --password P " +
                "[--start REGION] [--texture UUID] [--times N] [--seconds S] [--timeout-ms T] " +
                "[--pause-ms P] [--hold-ms H] [--presence-retries R] [--verbose]");
            return 2;
        }
        Verbose = o.Verbose;
        Logger.OnLogMessage += delegate(object message, Helpers.LogLevel level)
        {
            if (Verbose || level == Helpers.LogLevel.Error)
                Console.Error.WriteLine("{0:HH:mm:ss.fff} [libomv {1}] {2}", DateTime.Now, level, message);
        };

        // Loopback grids: never through a proxy from the environment, and enough connections
        // per host for the event queue's long poll beside the other capability requests.
        WebRequest.DefaultWebProxy = null;
        ServicePointManager.DefaultConnectionLimit = 32;
        ServicePointManager.Expect100Continue = false;

        var watchdog = new Thread(Watchdog) { IsBackground = true, Name = "GridBot watchdog" };
        watchdog.Start();

        int times = o.Times;
        if (times < 0 && o.Seconds < 0) times = 1;
        var total = Stopwatch.StartNew();
        bool allOk = true;
        for (int n = 1; ; n++)
        {
            if (times >= 0 && n > times) break;
            if (o.Seconds >= 0 && n > 1 && total.Elapsed.TotalSeconds >= o.Seconds) break;
            if (o.StopFile != null && n > 1 && File.Exists(o.StopFile)) break;
            var a = new Attempt { N = n };
            lock (WatchLock)
            {
                Current = a;
                CurrentPhase = "start";
                // login, root, caps, inventory, texture, logout (+ logout's shutdown) and slack
                Deadline = DateTime.UtcNow.AddMilliseconds(
                    (7.0 + o.PresenceRetries) * o.TimeoutMs + o.PresenceRetries * o.PresenceRetryMs
                    + o.HoldMs + 10000);
            }
            RunAttempt(o, a);
            bool mine;
            lock (WatchLock)
            {
                mine = Current == a;    // false: the watchdog has reported it and is exiting
                Current = null;
                Deadline = DateTime.MaxValue;
            }
            if (!mine) Thread.Sleep(Timeout.Infinite);
            Emit(a);
            if (!a.Ok) allOk = false;
            if (o.PauseMs > 0)
            {
                if (o.Seconds >= 0 && total.Elapsed.TotalSeconds >= o.Seconds) break;
                if (times >= 0 && n >= times) break;
                Thread.Sleep(o.PauseMs);
            }
        }
        lock (WatchLock) Finished = true;
        // libomv leaves foreground threads and timers behind; end the process outright.
        HardExit(allOk ? 0 : 1);
        return allOk ? 0 : 1;
    }

    [DllImport("libc", EntryPoint = "_exit")]
    static extern void SysExit(int status);

    // Mono's Environment.Exit waits for libomv's threads (measured: 40+ s with a circuit and an
    // event-queue poll still open), so flush and leave with _exit(2); Environment.Exit only
    // where libc's _exit cannot be called.
    static void HardExit(int code)
    {
        try { Out.Flush(); } catch (Exception) { }
        try { Console.Error.Flush(); } catch (Exception) { }
        try { SysExit(code); } catch (Exception) { }
        Environment.Exit(code);
    }

    static void Emit(Attempt a)
    {
        lock (OutLock)
        {
            Out.WriteLine(a.ToJson());
            Out.Flush();
        }
    }

    static void Watchdog()
    {
        while (true)
        {
            Thread.Sleep(200);
            Attempt a; string phase;
            lock (WatchLock)
            {
                if (Finished) return;
                if (Current == null || DateTime.UtcNow < Deadline) continue;
                a = Current; phase = CurrentPhase;
                Current = null;
            }
            a.Ok = false;
            a.Error = "watchdog: attempt overran every phase timeout (stuck in phase " + phase + ")";
            Emit(a);
            HardExit(1);
        }
    }

    static void Phase(string name)
    {
        lock (WatchLock) CurrentPhase = name;
        if (Verbose) Console.Error.WriteLine("{0:HH:mm:ss.fff} [GridBot] phase {1}", DateTime.Now, name);
    }

    static void RunAttempt(Options o, Attempt a)
    {
        GridClient client = null;
        bool loggedIn = false;
        try
        {
            client = NewClient(o);
            // When the RegionHandshake and the AgentMovementComplete packets arrived, in ms
            // since the login began (libomv's Network.Login itself returns only after the
            // handshake, and the movement usually completes before it returns).
            var clock = Stopwatch.StartNew();
            long handshakeAt = -1, movedAt = -1;
            client.Network.RegisterCallback(PacketType.RegionHandshake,
                delegate { Interlocked.CompareExchange(ref handshakeAt, clock.ElapsedMilliseconds, -1); }, false);
            client.Network.RegisterCallback(PacketType.AgentMovementComplete,
                delegate { Interlocked.CompareExchange(ref movedAt, clock.ElapsedMilliseconds, -1); }, false);

            // Alerts from the region (e.g. `alert TEXT` on the simulator console).
            client.Self.AlertMessage += delegate(object s, AlertMessageEventArgs e)
            {
                lock (a.Alerts) a.Alerts.Add(e.Message);
                if (Verbose) Console.Error.WriteLine("{0:HH:mm:ss.fff} [GridBot] alert: {1}", DateTime.Now, e.Message);
            };

            Phase("login");
            loggedIn = DoLogin(o, client, a, clock);
            if (!loggedIn) return;

            Phase("root");
            Simulator sim = null;
            bool root = WaitUntil(o.TimeoutMs, delegate
            {
                sim = client.Network.CurrentSim;
                return sim != null && sim.HandshakeComplete && sim.AgentMovementComplete
                    && Interlocked.Read(ref movedAt) >= 0;
            });
            if (!root)
            {
                sim = client.Network.CurrentSim;
                string what = sim == null ? "no current simulator"
                    : !sim.HandshakeComplete ? "no RegionHandshake"
                    : "no AgentMovementComplete";
                Fail(a, "timeout: root (" + what + " after " + o.TimeoutMs + " ms)");
                return;
            }
            a.RootMs = Math.Max(Interlocked.Read(ref movedAt), Interlocked.Read(ref handshakeAt));
            a.Region = sim.Name;

            Phase("caps");
            var sw = Stopwatch.StartNew();
            bool caps = WaitUntil(o.TimeoutMs, delegate
            {
                Caps c = sim.Caps;
                return c != null && c.IsEventQueueRunning
                    && c.CapabilityURI("FetchInventoryDescendents2") != null
                    && c.CapabilityURI("GetTexture") != null;
            });
            if (!caps)
            {
                Caps c = sim.Caps;
                string what = c == null ? "no seed capability"
                    : c.CapabilityURI("FetchInventoryDescendents2") == null
                        ? (c.CapabilityURI("EventQueueGet") == null
                            ? "seed capability not answered"
                            : "no FetchInventoryDescendents2 capability")
                    : c.CapabilityURI("GetTexture") == null ? "no GetTexture capability"
                    : "event queue not running";
                Fail(a, "timeout: caps (" + what + " after " + o.TimeoutMs + " ms)");
                return;
            }
            a.CapsMs = sw.ElapsedMilliseconds;

            Phase("inventory");
            sw.Restart();
            string invErr = FetchInventoryRoot(o, client, sim, a);
            if (invErr != null) { Fail(a, invErr); return; }
            a.InventoryMs = sw.ElapsedMilliseconds;

            Phase("texture");
            sw.Restart();
            string texErr = FetchTexture(o, sim, a);
            if (texErr != null) { Fail(a, texErr); return; }
            a.TextureMs = sw.ElapsedMilliseconds;

            if (o.HoldMs > 0)
            {
                // Stay in-world (e.g. for `show users` on the simulator console); the circuit
                // keeps itself alive (pings, acks, agent updates).
                Phase("hold");
                Thread.Sleep(o.HoldMs);
                if (!client.Network.Connected || client.Network.CurrentSim == null)
                {
                    Fail(a, "hold: the simulator closed the circuit while the agent was in-world");
                    loggedIn = false;
                }
            }
        }
        catch (Exception e)
        {
            Fail(a, "exception in phase " + CurrentPhase + ": " + e.GetType().Name + ": " + e.Message);
            if (Verbose) Console.Error.WriteLine(e);
        }
        finally
        {
            if (loggedIn)
            {
                try
                {
                    Phase("logout");
                    string err = DoLogout(o, client, a);
                    if (err != null) Fail(a, err);
                }
                catch (Exception e)
                {
                    Fail(a, "exception in phase logout: " + e.GetType().Name + ": " + e.Message);
                }
            }
            a.Ok = a.Error == null;
        }
    }

    static void Fail(Attempt a, string error)
    {
        if (a.Error == null) a.Error = error;   // keep the first failure
    }

    static GridClient NewClient(Options o)
    {
        var c = new GridClient();
        Settings s = c.Settings;
        s.LOGIN_SERVER = o.Login;
        s.USE_LLSD_LOGIN = false;           // XML-RPC login_to_simulator, as viewers do
        s.HTTP_INVENTORY = true;            // inventory through the simulator's caps only
        s.USE_HTTP_TEXTURES = true;
        s.USE_ASSET_CACHE = false;          // fetch for real, and write no cache directory
        s.MULTIPLE_SIMS = false;            // do not open child circuits to neighbours
        s.SEND_AGENT_APPEARANCE = false;    // no wearables/baking traffic (UDP inventory, assets)
        s.ALWAYS_REQUEST_OBJECTS = false;
        s.PARCEL_TRACKING = false;
        s.ALWAYS_REQUEST_PARCEL_ACL = false;
        s.ALWAYS_REQUEST_PARCEL_DWELL = false;
        s.FETCH_MISSING_INVENTORY = false;
        s.STORE_LAND_PATCHES = false;
        s.LOG_NAMES = false;
        s.LOG_RESENDS = false;
        s.LOG_DISKCACHE = false;
        s.LOGIN_TIMEOUT = o.TimeoutMs;
        s.CAPS_TIMEOUT = o.TimeoutMs;
        s.LOGOUT_TIMEOUT = o.TimeoutMs;
        return c;
    }

    static bool DoLogin(Options o, GridClient client, Attempt a, Stopwatch clock)
    {
        bool ok;
        long ms;
        while (true)
        {
            LoginParams p = client.Network.DefaultLoginParams(o.First, o.Last, o.Password,
                "GridBot", "GridBot 1.0");
            p.URI = o.Login;
            p.Timeout = o.TimeoutMs;
            p.Start = string.IsNullOrEmpty(o.Start) ? "last"
                : NetworkManager.StartLocation(o.Start, 128, 128, 25);
            clock.Restart();    // root_ms counts from the start of the last try
            ok = client.Network.Login(p);
            ms = clock.ElapsedMilliseconds;
            // "You appear to be already logged in" (reason "presence"): the grid still holds a
            // presence for this user. After a clean logout that is a race in OpenSim 0.9.2.2:
            // the simulator tells the presence service about the logout only after it has
            // closed the agent (measured: a few hundred ms later under load), and the refusal
            // itself makes the login service close the stale session, so one retry succeeds.
            if (ok || client.Network.LoginErrorKey != "presence" || a.LoginRetries >= o.PresenceRetries)
                break;
            a.LoginRetries++;
            if (Verbose)
                Console.Error.WriteLine("{0:HH:mm:ss.fff} [GridBot] login refused (presence); retrying in {1} ms",
                    DateTime.Now, o.PresenceRetryMs);
            Thread.Sleep(o.PresenceRetryMs);
        }
        if (!ok)
        {
            string msg = client.Network.LoginMessage;
            string key = client.Network.LoginErrorKey;
            if (msg == "Timed out")
                Fail(a, "timeout: login (no login reply and circuit within " + o.TimeoutMs + " ms)");
            else
                Fail(a, "login failed: " + (string.IsNullOrEmpty(msg) ? "(no message)" : msg.Trim())
                    + (string.IsNullOrEmpty(key) ? "" : " [" + key + "]"));
            // A failed login may still have opened a circuit: close it.
            try { if (client.Network.Connected) client.Network.Shutdown(NetworkManager.DisconnectType.ClientInitiated); }
            catch (Exception) { }
            return false;
        }
        a.LoginMs = ms;
        return true;
    }

    static string FetchInventoryRoot(Options o, GridClient client, Simulator sim, Attempt a)
    {
        UUID root = client.Inventory.Store != null && client.Inventory.Store.RootFolder != null
            ? client.Inventory.Store.RootFolder.UUID : UUID.Zero;
        if (root == UUID.Zero)
            root = client.Network.LoginResponseData.InventoryRoot;   // a struct
        if (root == UUID.Zero) return "inventory: the login reply named no inventory root";

        Uri cap = sim.Caps.CapabilityURI("FetchInventoryDescendents2");
        var folder = new OSDMap();
        folder["folder_id"] = OSD.FromUUID(root);
        folder["owner_id"] = OSD.FromUUID(client.Self.AgentID);
        folder["fetch_folders"] = OSD.FromBoolean(true);
        folder["fetch_items"] = OSD.FromBoolean(true);
        folder["sort_order"] = OSD.FromInteger(0);
        var folders = new OSDArray();
        folders.Add(folder);
        var req = new OSDMap();
        req["folders"] = folders;

        OSD result = null; Exception error = null;
        var done = new ManualResetEvent(false);
        var http = new CapsClient(cap);
        http.OnComplete += delegate(CapsClient c, OSD r, Exception e) { result = r; error = e; done.Set(); };
        http.BeginGetResponse(req, OSDFormat.Xml, o.TimeoutMs);
        if (!done.WaitOne(o.TimeoutMs + 1000))
        {
            try { http.Cancel(); } catch (Exception) { }
            return "timeout: inventory (FetchInventoryDescendents2 gave no answer within " + o.TimeoutMs + " ms)";
        }
        if (error != null) return "inventory: FetchInventoryDescendents2 failed: " + Describe(error);
        var map = result as OSDMap;
        if (map == null || !(map["folders"] is OSDArray))
            return "inventory: FetchInventoryDescendents2 answered without a folders array";
        var got = (OSDArray)map["folders"];
        foreach (OSD f in got)
        {
            var fm = f as OSDMap;
            if (fm == null || fm["folder_id"].AsUUID() != root) continue;
            int entries = 0;
            if (fm["categories"] is OSDArray) entries += ((OSDArray)fm["categories"]).Count;
            if (fm["items"] is OSDArray) entries += ((OSDArray)fm["items"]).Count;
            a.InventoryEntries = entries;
            if (entries == 0)
                return "inventory: the root folder " + root + " came back empty";
            return null;
        }
        string bad = "";
        if (map["bad_folders"] is OSDArray && ((OSDArray)map["bad_folders"]).Count > 0)
            bad = " (bad_folders: " + OSDParser.SerializeJsonString(map["bad_folders"]) + ")";
        return "inventory: the answer did not contain the root folder " + root + bad;
    }

    static string FetchTexture(Options o, Simulator sim, Attempt a)
    {
        Uri cap = sim.Caps.CapabilityURI("GetTexture");
        string url = cap.ToString() + (cap.Query.Length > 0 ? "&" : "?") + "texture_id=" + o.Texture;
        var req = (HttpWebRequest)WebRequest.Create(url);
        req.Method = "GET";
        req.Proxy = null;
        req.Accept = "image/x-j2c";
        req.Timeout = o.TimeoutMs;
        req.ReadWriteTimeout = o.TimeoutMs;
        req.KeepAlive = false;
        try
        {
            using (var resp = (HttpWebResponse)req.GetResponse())
            using (var body = resp.GetResponseStream())
            {
                var buf = new byte[65536];
                long total = 0;
                int r;
                while ((r = body.Read(buf, 0, buf.Length)) > 0) total += r;
                a.TextureBytes = total;
                int code = (int)resp.StatusCode;
                if (code != 200 && code != 206)
                    return "texture: GetTexture answered HTTP " + code;
                if (total <= 0)
                    return "texture: GetTexture returned no bytes for " + o.Texture;
                return null;
            }
        }
        catch (WebException e)
        {
            if (e.Status == WebExceptionStatus.Timeout)
                return "timeout: texture (GetTexture gave no answer within " + o.TimeoutMs + " ms)";
            return "texture: GetTexture " + o.Texture + " failed: " + Describe(e);
        }
    }

    static string DoLogout(Options o, GridClient client, Attempt a)
    {
        var loggedOut = new ManualResetEvent(false);
        var disconnected = new ManualResetEvent(false);
        EventHandler<LoggedOutEventArgs> onLoggedOut = delegate { loggedOut.Set(); };
        EventHandler<DisconnectedEventArgs> onDisconnected = delegate { disconnected.Set(); };
        client.Network.LoggedOut += onLoggedOut;
        client.Network.Disconnected += onDisconnected;
        var sw = Stopwatch.StartNew();
        try
        {
            if (!client.Network.Connected) return "logout: the circuit was already closed";
            if (Verbose)
                client.Network.RegisterCallback(PacketType.Default, delegate(object s, PacketReceivedEventArgs e)
                {
                    Console.Error.WriteLine("{0:HH:mm:ss.fff} [GridBot] logout +{1} ms: received {2}",
                        DateTime.Now, sw.ElapsedMilliseconds, e.Packet.Type);
                }, false);
            Simulator sim = client.Network.CurrentSim;
            client.Network.RequestLogout();
            // The simulator answers LogoutRequest with LogoutReply and closes the agent (its
            // caps, event queue included, are removed). OpenSim 0.9.2.2 queues the LogoutReply
            // and then closes the client, so the reply is sometimes never sent: a closed event
            // queue (404 on its long poll) is then the simulator's answer.
            bool eqClosed = false;
            bool answered = WaitUntil(o.TimeoutMs, delegate
            {
                if (loggedOut.WaitOne(0)) return true;
                Caps c = sim == null ? null : sim.Caps;
                eqClosed = c != null && !c.IsEventQueueRunning;
                return eqClosed;
            });
            if (!answered)
            {
                client.Network.Shutdown(NetworkManager.DisconnectType.NetworkTimeout);
                return "timeout: logout (no LogoutReply and the event queue still open after "
                    + o.TimeoutMs + " ms)";
            }
            if (!loggedOut.WaitOne(0))
            {
                a.LogoutVia = "event_queue_closed";
                // libomv shuts down by itself only on LogoutReply: close the circuit now.
                client.Network.Shutdown(NetworkManager.DisconnectType.ClientInitiated);
            }
            else a.LogoutVia = "LogoutReply";
            if (!disconnected.WaitOne(o.TimeoutMs))
                return "timeout: logout (circuit not shut down within " + o.TimeoutMs + " ms)";
            a.LogoutMs = sw.ElapsedMilliseconds;
            return null;
        }
        finally
        {
            client.Network.LoggedOut -= onLoggedOut;
            client.Network.Disconnected -= onDisconnected;
        }
    }

    static bool WaitUntil(int timeoutMs, Func<bool> cond)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (cond()) return true;
            if (sw.ElapsedMilliseconds >= timeoutMs) return cond();
            Thread.Sleep(5);
        }
    }

    static string Describe(Exception e)
    {
        var we = e as WebException;
        if (we != null && we.Response is HttpWebResponse)
        {
            var r = (HttpWebResponse)we.Response;
            return "HTTP " + (int)r.StatusCode + " " + r.StatusDescription;
        }
        return e.GetType().Name + ": " + e.Message;
    }

    static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string k = args[i];
            if (k == "--verbose") { o.Verbose = true; continue; }
            if (i + 1 >= args.Length) throw new ArgumentException(k + " needs a value");
            string v = args[++i];
            switch (k)
            {
                case "--login": o.Login = v; break;
                case "--first": o.First = v; break;
                case "--last": o.Last = v; break;
                case "--password": o.Password = v; break;
                case "--start": o.Start = v; break;
                case "--stop-file": o.StopFile = v; break;
                case "--texture":
                    if (!UUID.TryParse(v, out o.Texture)) throw new ArgumentException("--texture: not a UUID: " + v);
                    break;
                case "--times": o.Times = PositiveInt(k, v); break;
                case "--seconds":
                    double s;
                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out s) || s < 0)
                        throw new ArgumentException("--seconds: not a number >= 0: " + v);
                    o.Seconds = s;
                    break;
                case "--timeout-ms": o.TimeoutMs = PositiveInt(k, v); break;
                case "--hold-ms":
                    int h;
                    if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out h) || h < 0)
                        throw new ArgumentException("--hold-ms: not an integer >= 0: " + v);
                    o.HoldMs = h;
                    break;
                case "--presence-retries":
                    int pr;
                    if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out pr) || pr < 0)
                        throw new ArgumentException("--presence-retries: not an integer >= 0: " + v);
                    o.PresenceRetries = pr;
                    break;
                case "--pause-ms":
                    int p;
                    if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out p) || p < 0)
                        throw new ArgumentException("--pause-ms: not an integer >= 0: " + v);
                    o.PauseMs = p;
                    break;
                default: throw new ArgumentException("unknown argument " + k);
            }
        }
        if (o.Login == null) throw new ArgumentException("--login is required");
        if (o.First == null) throw new ArgumentException("--first is required");
        if (o.Last == null) throw new ArgumentException("--last is required");
        if (o.Password == null) throw new ArgumentException("--password is required");
        Uri u;
        if (!Uri.TryCreate(o.Login, UriKind.Absolute, out u)) throw new ArgumentException("--login: not a URI: " + o.Login);
        return o;
    }

    static int PositiveInt(string k, string v)
    {
        int n;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out n) || n <= 0)
            throw new ArgumentException(k + ": not an integer > 0: " + v);
        return n;
    }

    static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4"));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
