//! The hub-log benchmark's reader and generator (`bench/run.sh`, part `hublog`); not
//! part of the product.
//!
//! ```text
//! cargo run --release --example parse_log -- generate FILE MIB
//!     writes a hub log in JupyterHub's default format of about MIB MiB: mostly ordinary
//!     request lines, with admin changes (a PATCH, a bulk add of two, a group add, a
//!     login) every 5,000 lines; prints {"bytes": .., "events": ..}
//! cargo run --release --example parse_log -- parse FILE
//!     reads FILE as the daemon would (64 MiB a read, events drained after each read) and
//!     prints {"bytes" (its size), "read" (with partial lines read again), "seconds", "mib_per_s", "lines", "skipped", "events", "vm_hwm_kib"}
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use jupyterhub_admin_sync::evidence::{Attributor, LogFile, LogZone, MadeBy};

/// Lines between two blocks of admin changes.
const EVERY: u64 = 5_000;
/// Events in one block: a PATCH, two users of a bulk add, a group add, a login.
const EVENTS_PER_BLOCK: u64 = 5;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", file, mib] => {
            let mib: u64 = mib.parse().unwrap_or_else(|_| usage());
            generate(file, mib << 20).unwrap_or_else(|e| panic!("writing {file}: {e}"));
        }
        ["parse", file] => parse(file),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: parse_log generate FILE MIB | parse FILE");
    std::process::exit(2);
}

/// Writes lines a millisecond apart until `bytes` are written.
fn generate(path: &str, bytes: u64) -> std::io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let (mut written, mut n, mut events) = (0u64, 0u64, 0u64);
    let mut text = String::with_capacity(512);
    while written < bytes {
        text.clear();
        if n % EVERY == EVERY - 1 {
            admin_block(&mut text, n);
            events += EVENTS_PER_BLOCK;
            n += 9;
        } else {
            ordinary(&mut text, n);
            n += 1;
        }
        out.write_all(text.as_bytes())?;
        written += text.len() as u64;
    }
    out.flush()?;
    println!("{{\"bytes\": {written}, \"events\": {events}}}");
    Ok(())
}

/// `[I 2026-12-01 HH:MM:SS.mmm JupyterHub MODULE:LINE] ` for line `n` (a millisecond each).
fn header(text: &mut String, n: u64, level: char, module: &str) {
    use std::fmt::Write as _;
    let ms = n % 86_400_000;
    let day = 1 + n / 86_400_000 % 28;
    let _ = write!(
        text,
        "[{level} 2026-12-{day:02} {:02}:{:02}:{:02}.{:03} JupyterHub {module}] ",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000
    );
}

/// An ordinary line: requests of users and of the tool, a redirect, a 404, the proxy.
fn ordinary(text: &mut String, n: u64) {
    use std::fmt::Write as _;
    let user = n % 997;
    let ms = (n % 5_000) as f64 / 100.0 + 0.5;
    match n % 7 {
        0..=2 => {
            header(text, n, 'I', "log:192");
            let _ = writeln!(
                text,
                "200 GET /user/user-{user}/api/kernels?{n} (user-{user}@10.0.{}.{}) {ms:.2}ms",
                user % 250,
                n % 250
            );
        }
        3 => {
            header(text, n, 'I', "log:192");
            let _ = writeln!(
                text,
                "200 GET /hub/api/users?offset={}&limit=200 (admin-sync@127.0.0.1) {ms:.2}ms",
                n % 50 * 200
            );
        }
        4 => {
            header(text, n, 'I', "log:192");
            let _ = writeln!(
                text,
                "302 GET /hub/ -> /hub/home (user-{user}@10.0.1.2) {ms:.2}ms"
            );
        }
        5 => {
            header(text, n, 'W', "log:192");
            let _ = writeln!(
                text,
                "404 GET /hub/api/users/nobody-{user} (admin-sync@127.0.0.1) {ms:.2}ms"
            );
        }
        _ => {
            header(text, n, 'I', "proxy:481");
            let _ = writeln!(
                text,
                "Adding user user-{user} to proxy /user/user-{user}/ => http://10.0.0.5:8888"
            );
        }
    }
}

/// Nine lines: a PATCH by a representative, a bulk add of two, a group add, a login.
fn admin_block(text: &mut String, n: u64) {
    use std::fmt::Write as _;
    let b = n / EVERY;
    let mut line = |i: u64, module: &str, message: String| {
        header(text, n + i, 'I', module);
        let _ = writeln!(text, "{message}");
    };
    line(
        0,
        "users:395",
        format!("rep-lee setting admin=True for newbie-{b}"),
    );
    line(
        0,
        "roles:281",
        format!("Adding role admin for User: newbie-{b}"),
    );
    line(
        1,
        "log:192",
        format!("200 PATCH /hub/api/users/newbie-{b} (rep-lee@127.0.0.1) 6.71ms"),
    );
    line(
        2,
        "roles:281",
        format!("Adding role admin for User: fresh-{b}-1"),
    );
    line(
        3,
        "roles:281",
        format!("Adding role admin for User: fresh-{b}-2"),
    );
    line(
        4,
        "log:192",
        "201 POST /hub/api/users?_xsrf=[secret] (rep-lee@127.0.0.1) 4.08ms".to_string(),
    );
    line(
        5,
        "groups:166",
        "Adding 1 users to group hub-admins".to_string(),
    );
    line(
        6,
        "log:192",
        "200 POST /hub/api/groups/hub-admins/users (rep-lee@127.0.0.1) 2.00ms".to_string(),
    );
    line(
        7,
        "roles:281",
        format!("Adding role admin for User: login-{b}"),
    );
    line(
        8,
        "log:192",
        format!("302 POST /hub/login?next=%2Fhub%2Fhome -> /hub/home (login-{b}@127.0.0.1) 3.00ms"),
    );
}

fn parse(path: &str) {
    let mut log = LogFile::new(path, None);
    let mut attributor = Attributor::new(LogZone::utc(), Duration::from_secs(60));
    let (mut bytes, mut events, mut unknown) = (0u64, 0u64, 0u64);
    let mut count = |list: Vec<_>| {
        for event in list {
            let jupyterhub_admin_sync::evidence::AdminEvent { made_by, .. } = event;
            events += 1;
            unknown += u64::from(matches!(made_by, MadeBy::Unknown(_)));
        }
    };
    let size = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .len();
    let started = Instant::now();
    loop {
        let report = log
            .read(64 << 20, &mut attributor)
            .unwrap_or_else(|e| panic!("reading {path}: {e}"));
        bytes += report.bytes;
        count(attributor.take_settled());
        if report.caught_up {
            break;
        }
    }
    count(attributor.flush());
    let seconds = started.elapsed().as_secs_f64();
    let stats = attributor.stats();
    println!(
        "{{\"bytes\": {size}, \"read\": {bytes}, \"seconds\": {seconds:.3}, \"mib_per_s\": {:.1}, \"lines\": {}, \
         \"skipped\": {}, \"events\": {events}, \"unknown\": {unknown}, \"vm_hwm_kib\": {}}}",
        size as f64 / f64::from(1 << 20) / seconds.max(1e-9),
        stats.lines,
        stats.skipped,
        vm_hwm_kib()
    );
}

/// This process's peak resident memory, from `/proc/self/status` (0 where there is none).
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
