//! Work over many copies on a few threads: results in order, progress as it comes.
//! A thousand copies cost a handful of threads and sockets, not a thousand of each.

use gridctl_wire::protocol::InstanceState;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// What a watched copy reports while a step waits on it: its holder's state and detail.
pub type Change<'a> = &'a (dyn Fn(InstanceState, &str) + Sync);

/// A change callback that drops what it is told.
pub fn unwatched(_: InstanceState, _: &str) {}

/// How many holders are asked at once: enough to keep both sides busy while a few
/// holders are slow to be scheduled, few enough that a thousand copies cost a handful
/// of threads and sockets, not a thousand of each.
pub const PARALLEL: usize = 16;

/// How many copies are stopped at once: a stop waits on the copy's own shutdown.
pub const PARALLEL_STOPS: usize = 128;

/// `f` over `items` on at most `workers` threads, results in the order of `items`.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let mut out = Vec::with_capacity(items.len());
    par_for_each(items, workers, f, |_, r| out.push(r));
    out
}

/// `f` over `items` on at most `workers` threads; `each` gets every result on the
/// calling thread, in the order of `items`, as soon as it and all before it are in
/// (progress stays in order and prompt). Workers take the next item as they finish
/// one, so a slow copy holds up no batch. A worker's panic is raised again here.
pub fn par_for_each<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
    each: impl FnMut(usize, R),
) {
    let mut each = each;
    par_for_each_watched(
        items,
        workers,
        |item, _: Change| f(item),
        |i, update| {
            if let Update::Done(r) = update {
                each(i, r);
            }
        },
    );
}

/// What [`par_for_each_watched`] hands back about one item.
pub enum Update<R> {
    /// The item's copy changed state or detail while its work runs (any order).
    Changed(InstanceState, String),
    /// The item's result (in the order of the items).
    Done(R),
}

/// [`par_for_each`] whose work reports as it goes: what `f` tells its [`Change`]
/// reaches `on` on the calling thread at once, tagged with the item's index; results
/// reach it in the order of `items`.
pub fn par_for_each_watched<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T, Change) -> R + Sync,
    mut on: impl FnMut(usize, Update<R>),
) {
    let workers = workers.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Update<R>)>();
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (tx, next, f) = (tx.clone(), &next, &f);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else {
                    return;
                };
                let report = |state: InstanceState, detail: &str| {
                    let _ = tx.send((i, Update::Changed(state, detail.to_string())));
                };
                let r = f(item, &report);
                if tx.send((i, Update::Done(r))).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        // Results come in any order: hold each until those before it are in.
        let mut held = BTreeMap::new();
        let mut due = 0;
        for (i, update) in rx {
            match update {
                Update::Changed(..) => on(i, update),
                Update::Done(r) => {
                    held.insert(i, r);
                    while let Some(r) = held.remove(&due) {
                        on(due, Update::Done(r));
                        due += 1;
                    }
                }
            }
        }
    });
}
