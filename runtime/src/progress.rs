//! A progress bar for the binaries (`accelc` compiles, `accelrt` simulations): drawn on stderr only when
//! stderr is a terminal, and only once the work has taken more than a second, so quick runs, pipes and tests
//! print nothing. A background thread draws it; the work only bumps an atomic counter or sets a message.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long work runs before the bar appears.
const DELAY: Duration = Duration::from_secs(1);

struct Shared {
    done: AtomicBool,
    message: Mutex<String>,
}

/// A bar that appears after a second on a terminal; finished when dropped.
pub struct Bar {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// A bar over `total` steps read from `counter` (a spinner when `total` is `None`), labelled `message`.
    pub fn start(message: &str, total: Option<u64>, counter: Option<&'static AtomicU64>) -> Bar {
        let shared = Arc::new(Shared { done: AtomicBool::new(false), message: Mutex::new(message.to_string()) });
        let thread = std::io::stderr().is_terminal().then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || draw(&shared, total, counter))
        });
        Bar { shared, thread }
    }

    /// Changes the label (the stage of a compile, say).
    pub fn set_message(&self, message: &str) {
        if let Ok(mut m) = self.shared.message.lock() {
            *m = message.to_string();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.shared.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn draw(shared: &Shared, total: Option<u64>, counter: Option<&'static AtomicU64>) {
    let t0 = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !shared.done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if bar.is_none() && t0.elapsed() >= DELAY {
            let b = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
                    ProgressStyle::with_template("{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                    ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                ),
            };
            bar = Some(b.with_elapsed(t0.elapsed()));
        }
        if let Some(b) = &bar {
            if let Ok(m) = shared.message.lock() {
                b.set_message(m.clone());
            }
            match counter {
                Some(c) => b.set_position(c.load(Ordering::Relaxed)),
                None => b.tick(),
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}
