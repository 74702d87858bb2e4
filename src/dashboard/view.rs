//! Drawing one frame from the model. Every state has a symbol as well as a colour, so
//! the table reads the same with `NO_COLOR` or on a monochrome terminal over SSH.

use super::model::{InstRow, Mode, Model, Tone};
use crate::render::Membership;
use crate::status::symbol;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// Below this the layout cannot show a table and a console.
const MIN_COLS: u16 = 40;
const MIN_ROWS: u16 = 10;

const FOOTER_WIDE: &str = "↑↓ select  ⏎ attach  r restart  s stop  u start  R rolling restart  +/- scale  / filter  ? help  q quit";
/// Exactly 80 columns.
const FOOTER: &str =
    "↑↓ move ⏎ attach r restart s stop u start R roll +- scale / filter ? help q quit";

/// Keys and what they do, for the help overlay.
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  k j", "select an instance (Home: first)"),
    ("Enter", "attach full-screen (Ctrl-] detaches)"),
    ("r", "graceful restart of the instance"),
    ("s", "stop the instance"),
    ("u", "start the instance (waits until ready)"),
    ("R", "rolling restart of the instance's role"),
    ("+  -", "scale the role by one copy (asks first)"),
    ("/", "filter by name (Enter keeps, Esc clears)"),
    ("PgUp PgDn", "scroll the console back / forward"),
    ("End", "follow the console again"),
    ("?", "this help (any key closes it)"),
    ("q  Ctrl-C", "quit (the grid keeps running)"),
];

/// Column widths: instance, state, pid, ports, restarts, crashes, uptime, cpu, rss,
/// upstream: 80 columns with nginx (`RST` operator restarts, `CR` crashes).
const WIDTHS: [usize; 10] = [12, 12, 7, 11, 3, 2, 6, 5, 6, 5];
const HEADERS: [&str; 10] = [
    "INSTANCE", "STATE", "PID", "PORTS", "RST", "CR", "UPTIME", "CPU%", "RSS", "NGINX",
];

pub fn render(f: &mut Frame, m: &mut Model) {
    let area = f.area();
    if area.width < MIN_COLS || area.height < MIN_ROWS {
        let msg = format!(
            "terminal too small ({}×{}); need {MIN_COLS}×{MIN_ROWS} — q quits",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let lines = table_lines(m, area.width);
    // A failure gets a second status row rather than being cut off.
    let status = status_line(m);
    let status_h = if m.status.0 == Tone::Bad && status.width() > usize::from(area.width) {
        2
    } else {
        1
    };
    // Title, column header, console title, status, footer.
    let avail = usize::from(area.height) - 4 - status_h;
    let console_min = (avail / 3).clamp(3, 8);
    let table_h = lines.len().min(avail - console_min).max(1);
    let console_h = avail - table_h;
    let mut y = area.y;
    let mut next = |h: usize| {
        let r = Rect::new(area.x, y, area.width, h as u16);
        y += h as u16;
        r
    };
    let title_area = next(1);
    let header_area = next(1);
    let table_area = next(table_h);
    let console_title = next(1);
    let console_area = next(console_h);
    let status_area = next(status_h);
    let footer_area = next(1);

    f.render_widget(Paragraph::new(title(m, area.width)), title_area);
    f.render_widget(
        Paragraph::new(header(m, area.width)).style(Style::default().add_modifier(Modifier::BOLD)),
        header_area,
    );
    // Keep the selected line in view.
    let sel = lines
        .iter()
        .position(|(_, selected)| *selected)
        .unwrap_or(0);
    let offset = sel.saturating_sub(table_h - 1);
    let shown: Vec<Line> = lines
        .into_iter()
        .skip(offset)
        .take(table_h)
        .map(|(l, _)| l)
        .collect();
    f.render_widget(Paragraph::new(shown), table_area);
    render_console(f, m, console_title, console_area);
    f.render_widget(
        Paragraph::new(status).wrap(Wrap { trim: false }),
        status_area,
    );
    let footer = match &m.mode {
        Mode::Filter => format!("filter: {}▏  Enter keeps it, Esc clears it", m.filter),
        _ if area.width >= 110 => FOOTER_WIDE.to_string(),
        _ => FOOTER.to_string(),
    };
    f.render_widget(
        Paragraph::new(footer).style(Style::default().add_modifier(Modifier::DIM)),
        footer_area,
    );
    if m.mode == Mode::Help {
        render_help(f, area);
    }
}

fn fg(m: &Model, c: Color) -> Style {
    if m.color {
        Style::default().fg(c)
    } else {
        Style::default()
    }
}

fn state_color(state: &str) -> Color {
    match state {
        "ready" => Color::Green,
        "starting" | "stopping" => Color::Yellow,
        "degraded" => Color::Magenta,
        "backoff" | "crash-loop" => Color::Red,
        _ => Color::DarkGray,
    }
}

fn title(m: &Model, width: u16) -> Line<'static> {
    let counts = m.counts();
    let total = m.snap.rows.len();
    let words: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let mut summary = format!("{total} instances: {}", words.join(", "));
    // Narrow terminals get the symbols instead of the words.
    if "gridctl top ·  · ".chars().count()
        + m.snap.grid_name.chars().count()
        + summary.chars().count()
        > usize::from(width)
    {
        let marks: Vec<String> = counts
            .iter()
            .map(|(s, n)| format!("{}{n}", symbol(s)))
            .collect();
        summary = format!("{total} instances: {}", marks.join(" "));
    }
    let mut spans = vec![
        Span::styled("gridctl top", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!(" · {} · {summary}", m.snap.grid_name)),
    ];
    if !m.filter.is_empty() {
        spans.push(Span::styled(
            format!(" · filter “{}”", m.filter),
            fg(m, Color::Cyan),
        ));
    }
    if let Some(e) = &m.snap.error {
        spans.push(Span::styled(format!(" · {e}"), fg(m, Color::Red)));
    }
    Line::from(spans)
}

fn columns(m: &Model, width: u16) -> (usize, bool) {
    let count = if m.snap.nginx { 10 } else { 9 };
    let used: usize = 2 + WIDTHS[..count].iter().map(|w| w + 1).sum::<usize>();
    // Wide terminals get a detail column with the rest of the width.
    let rest = usize::from(width).saturating_sub(used);
    (if rest >= 12 { rest } else { 0 }, count == 10)
}

fn cell(text: &str, width: usize) -> String {
    let mut s: String = text.chars().take(width).collect();
    let n = s.chars().count();
    s.extend(std::iter::repeat_n(' ', width - n + 1));
    s
}

fn header(m: &Model, width: u16) -> String {
    let (detail_w, nginx) = columns(m, width);
    let mut s = String::from("  ");
    for (i, h) in HEADERS.iter().enumerate().take(if nginx { 10 } else { 9 }) {
        s.push_str(&cell(h, WIDTHS[i]));
    }
    if detail_w > 0 {
        s.push_str("DETAIL");
    }
    s
}

/// Table lines, each with whether it is the selected instance.
fn table_lines(m: &Model, width: u16) -> Vec<(Line<'static>, bool)> {
    let (detail_w, nginx) = columns(m, width);
    let visible = m.visible();
    let mut out = Vec::new();
    for role in &m.snap.roles {
        let rows: Vec<&&InstRow> = visible.iter().filter(|r| r.role == role.name).collect();
        if rows.is_empty() && (!m.filter.is_empty() || role.copies > 0) {
            continue;
        }
        let copies = if role.copies == 1 {
            "1 copy".to_string()
        } else {
            format!("{} copies", role.copies)
        };
        out.push((
            Line::from(vec![
                Span::styled(
                    format!("▾ {}", role.name),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::styled(
                    format!("  {copies}"),
                    Style::default().add_modifier(Modifier::DIM),
                ),
            ]),
            false,
        ));
        for r in rows {
            let selected = m.selected.as_deref() == Some(r.name.as_str());
            out.push((instance_line(m, r, selected, nginx, detail_w), selected));
        }
    }
    if out.is_empty() {
        let text = if m.filter.is_empty() {
            "no instances"
        } else {
            "no instance matches the filter"
        };
        out.push((Line::from(format!("  {text}")), false));
    }
    out
}

fn instance_line(
    m: &Model,
    r: &InstRow,
    selected: bool,
    nginx: bool,
    detail_w: usize,
) -> Line<'static> {
    let dash = || "-".to_string();
    let mut values = r.cells();
    // The crash count's column is two wide: more than 99 shows as `++`.
    if let Some(crashes) = values.get_mut(5).filter(|c| c.chars().count() > WIDTHS[5]) {
        *crashes = "++".into();
    }
    if nginx {
        values.push(match r.upstream {
            Some(Membership::In) => "in".into(),
            Some(Membership::Draining) => "drain".into(),
            Some(Membership::Out) => "out".into(),
            None => dash(),
        });
    }
    let mut spans = vec![Span::raw(if selected { "▶ " } else { "  " })];
    for (i, v) in values.iter().enumerate() {
        let style = if i == 1 {
            fg(m, state_color(&r.state))
        } else {
            Style::default()
        };
        spans.push(Span::styled(cell(v, WIDTHS[i]), style));
    }
    if detail_w > 0 {
        let detail = r.detail_text();
        spans.push(Span::styled(
            detail.chars().take(detail_w).collect::<String>(),
            Style::default().add_modifier(Modifier::DIM),
        ));
    }
    let line = Line::from(spans);
    if selected {
        line.style(Style::default().add_modifier(Modifier::REVERSED))
    } else {
        line
    }
}

fn render_console(f: &mut Frame, m: &mut Model, title_area: Rect, area: Rect) {
    let height = usize::from(area.height);
    m.console_height = height;
    let color = m.color;
    let (title, lines) = match m.console.as_mut() {
        None => ("no instance selected".to_string(), Vec::new()),
        Some(c) => {
            m.scroll = m.scroll.min(c.max_scroll(height));
            let follow = if m.scroll == 0 {
                "following".to_string()
            } else {
                format!("{} lines back · End follows", m.scroll)
            };
            let note = if c.note.is_empty() {
                String::new()
            } else {
                format!(" · {}", c.note)
            };
            (
                format!("{} console · {follow}{note}", c.name),
                c.lines(height, area.width, m.scroll, color),
            )
        }
    };
    let bar = Block::default()
        .borders(Borders::TOP)
        .title(format!(" {title} "));
    f.render_widget(bar, title_area);
    f.render_widget(Paragraph::new(lines), area);
}

fn status_line(m: &Model) -> Line<'static> {
    let (tone, text) = &m.status;
    let (mark, color) = match tone {
        Tone::Info => ("·", Color::Reset),
        Tone::Busy => ("…", Color::Yellow),
        Tone::Good => ("✔", Color::Green),
        Tone::Bad => ("✖", Color::Red),
    };
    let running = if m.running > 1 {
        format!(" ({} actions running)", m.running)
    } else {
        String::new()
    };
    let style = if *tone == Tone::Bad {
        fg(m, color).add_modifier(Modifier::BOLD)
    } else {
        fg(m, color)
    };
    Line::from(Span::styled(format!("{mark} {text}{running}"), style))
}

fn render_help(f: &mut Frame, area: Rect) {
    let w = 60.min(area.width - 2);
    let h = (HELP.len() as u16 + 4).min(area.height - 2);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<11}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        " Actions run in the background; see the status line.",
    ));
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" gridctl top · keys ")),
        rect,
    );
}
