//! What `odis select` shows while it runs: each stage as it starts, and for
//! each pass over the corpus a progress bar (rows, rows/s, ETA) on a
//! terminal, or a plain line every few seconds when stderr is a file or a
//! pipe (a log).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a log gets a progress line.
const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct SelectProgress {
    show: bool,
    terminal: bool,
    pass: Mutex<Option<Pass>>,
}

/// A pass being shown, by a thread that reads its counter.
struct Pass {
    stop: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
    thread: JoinHandle<()>,
}

impl SelectProgress {
    pub fn new(quiet: bool) -> Self {
        SelectProgress { show: !quiet, terminal: std::io::stderr().is_terminal(), pass: Mutex::new(None) }
    }
}

impl odis::select::Progress for SelectProgress {
    fn stage(&self, stage: &str) {
        if !self.show {
            return;
        }
        let line = format!("odis select: {stage}...");
        match self.pass.lock().expect("not poisoned").as_ref().and_then(|p| p.bar.as_ref()) {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// A log gets a line; a terminal keeps the stage's line.
    fn still(&self, stage: &str, elapsed: Duration) {
        if self.show && !self.terminal {
            eprintln!("odis select: {stage}: still running after {:.0} s", elapsed.as_secs_f64());
        }
    }

    fn pass(&self, name: &str, total: u64, done: Arc<AtomicU64>) {
        self.pass_finished();
        if !self.show {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (bar, thread) = if self.terminal {
            // A total of 0 is unknown (a JSON corpus is counted by this pass).
            let template = match total {
                0 => "{prefix} {spinner} {human_pos} rows, {msg}",
                _ => "{prefix} [{bar:24}] {human_pos}/{human_len} rows, {msg}, ETA {eta}",
            };
            let bar = ProgressBar::with_draw_target((total > 0).then_some(total), ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
            bar.set_prefix(name.to_string());
            // A resumed pass starts part-way: its rate counts from here.
            let first = done.load(Ordering::Relaxed);
            bar.set_position(first);
            bar.reset_eta();
            let (shown, stop) = (bar.clone(), Arc::clone(&stop));
            let thread = std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let now = if total > 0 { done.load(Ordering::Relaxed).min(total) } else { done.load(Ordering::Relaxed) };
                    shown.set_position(now);
                    shown.set_message(rate(now - first.min(now), started.elapsed()));
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            (Some(bar), thread)
        } else {
            let (name, stop) = (name.to_string(), Arc::clone(&stop));
            let thread = std::thread::spawn(move || log_lines(&name, total, &done, &stop));
            (None, thread)
        };
        *self.pass.lock().expect("not poisoned") = Some(Pass { stop, bar, thread });
    }

    fn pass_finished(&self) {
        let Some(pass) = self.pass.lock().expect("not poisoned").take() else { return };
        pass.stop.store(true, Ordering::Relaxed);
        let _ = pass.thread.join();
        if let Some(bar) = pass.bar {
            bar.finish_and_clear();
        }
    }
}

/// Plain progress lines for a log, until stopped.
fn log_lines(name: &str, total: u64, done: &AtomicU64, stop: &AtomicBool) {
    let started = Instant::now();
    let first = done.load(Ordering::Relaxed);
    let mut next = started + LOG_EVERY;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        if Instant::now() < next {
            continue;
        }
        next += LOG_EVERY;
        if total == 0 {
            // Unknown total: the rows so far and the rate.
            let now = done.load(Ordering::Relaxed);
            eprintln!("odis select: {name}: {now} rows, {}", rate(now - first.min(now), started.elapsed()));
            continue;
        }
        let now = done.load(Ordering::Relaxed).min(total);
        let per_second = (now - first.min(now)) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let eta = if per_second > 0.0 { format!(", about {:.0} s left", (total - now) as f64 / per_second) } else { String::new() };
        eprintln!(
            "odis select: {name}: {now}/{total} rows ({:.0}%), {}{eta}",
            100.0 * now as f64 / total.max(1) as f64,
            rate(now - first.min(now), started.elapsed())
        );
    }
}

/// `12.3k rows/s`.
fn rate(rows: u64, elapsed: Duration) -> String {
    let per_second = rows as f64 / elapsed.as_secs_f64().max(1e-9);
    match per_second {
        r if r >= 1e6 => format!("{:.1}M rows/s", r / 1e6),
        r if r >= 1e3 => format!("{:.1}k rows/s", r / 1e3),
        r => format!("{r:.0} rows/s"),
    }
}
