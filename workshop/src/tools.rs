//! `sleep` and the three workshop tools: `memhog`, `cpuburn`, `forkbomb`.

use std::time::{Duration, Instant};

use anchorage_shared::cgroup::{format_size, parse_size};
use anchorage_shared::userland::parse_duration_ms;

use crate::Failure;

/// Sleeps for a duration, or for ever (`None`).
fn pause(ms: Option<u64>) {
    match ms {
        Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
}

pub fn sleep(args: &[String]) -> Result<i32, Failure> {
    match args.first().map(|a| (a, parse_duration_ms(a))) {
        Some((_, Ok(ms))) => {
            pause(ms);
            Ok(0)
        }
        Some((text, Err(_))) => Err((format!("sleep: invalid number '{text}'"), 1)),
        None => Err(("sleep: missing operand".into(), 1)),
    }
}

/// `memhog SIZE [SECONDS]`: touches SIZE of memory a page at a time, says
/// so, then holds it for SECONDS (or until killed). Under a `memory.max`
/// below SIZE, the OOM killer ends it first.
pub fn memhog(args: &[String]) -> Result<i32, Failure> {
    let Some(size) = args.first() else {
        return Err((
            "memhog: usage: memhog SIZE [SECONDS], as in memhog 100m".into(),
            2,
        ));
    };
    let target = parse_size(size).map_err(|err| (format!("memhog: {err}"), 2))?;
    let hold = match args.get(1).map(|s| parse_duration_ms(s)) {
        None => None,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            return Err((
                format!("memhog: invalid number of seconds '{}'", args[1]),
                2,
            ));
        }
    };
    const CHUNK: usize = 1 << 20;
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut touched: u64 = 0;
    while touched < target {
        let len = CHUNK.min((target - touched) as usize);
        let mut chunk: Vec<u8> = Vec::with_capacity(len);
        // Write every page, so the kernel must really back it.
        let ptr = chunk.as_mut_ptr();
        for offset in (0..len).step_by(4096) {
            // SAFETY: offset < len <= capacity.
            unsafe { ptr.add(offset).write_volatile(1) };
        }
        // SAFETY: every byte the vector claims is allocated; the values are
        // never read as anything but bytes.
        unsafe { chunk.set_len(len) };
        held.push(chunk);
        touched += len as u64;
    }
    println!("memhog: touched {}", format_size(target));
    pause(hold);
    drop(std::hint::black_box(held));
    Ok(0)
}

/// `stty [size]`: the terminal's size as `ROWS COLS` (what programs size
/// their screen by, and what a resize changes); without a terminal, says so.
pub fn stty(args: &[String]) -> Result<i32, Failure> {
    let mut size = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer.
    if unsafe { nix::libc::ioctl(0, nix::libc::TIOCGWINSZ, &mut size) } != 0 {
        return Err(("stty: standard input: Not a tty".into(), 1));
    }
    match args.first().map(String::as_str) {
        Some("size") => println!("{} {}", size.ws_row, size.ws_col),
        None | Some("-a") => println!("rows {}; columns {};", size.ws_row, size.ws_col),
        Some(other) => return Err((format!("stty: invalid argument '{other}'"), 1)),
    }
    Ok(0)
}

/// `keyctl new_session`: joins a new session keyring and prints its
/// serial, as keyutils' `keyctl` does. The kernel's keyrings are not
/// namespaced, so Docker's seccomp profile refuses every keyring call: in
/// a container this says so.
pub fn keyctl(args: &[String]) -> Result<i32, Failure> {
    const KEYCTL_JOIN_SESSION_KEYRING: nix::libc::c_long = 1;
    match args.first().map(String::as_str) {
        Some("new_session") => {
            // SAFETY: a null name asks for an anonymous keyring.
            let serial = unsafe {
                nix::libc::syscall(
                    nix::libc::SYS_keyctl,
                    KEYCTL_JOIN_SESSION_KEYRING,
                    std::ptr::null::<nix::libc::c_char>(),
                )
            };
            if serial < 0 {
                let errno = nix::errno::Errno::last();
                return Err((
                    format!(
                        "keyctl: join_session_keyring: {}",
                        crate::files::strerror(errno)
                    ),
                    1,
                ));
            }
            println!("{serial}");
            Ok(0)
        }
        _ => Err(("usage: keyctl new_session".into(), 2)),
    }
}

/// `cpuburn [SECONDS]`: spins one CPU; at the end says how much CPU it got
/// for the wall time (less than all of it under a `cpu.max` quota).
pub fn cpuburn(args: &[String]) -> Result<i32, Failure> {
    let limit = match args.first().map(|s| parse_duration_ms(s)) {
        None => None,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            return Err((
                format!("cpuburn: invalid number of seconds '{}'", args[0]),
                2,
            ));
        }
    };
    let start = Instant::now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    loop {
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        if let Some(ms) = limit
            && start.elapsed() >= Duration::from_millis(ms)
        {
            break;
        }
    }
    let cpu = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0);
    println!(
        "cpuburn: {:.2} s of wall time, {cpu:.2} s of CPU",
        start.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// `forkbomb`: every copy forks copies of itself, for ever. When fork
/// fails (at `pids.max`), it says so once per process and keeps trying.
pub fn forkbomb() -> i32 {
    let mut complained = false;
    loop {
        // SAFETY: the program is single-threaded; the child only loops.
        match unsafe { nix::unistd::fork() } {
            Ok(_) => {}
            Err(errno) => {
                if !complained {
                    complained = true;
                    eprintln!("forkbomb: fork: {}", crate::files::strerror(errno));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
