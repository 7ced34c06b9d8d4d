//! The load average, kept as the kernel's `calc_load` keeps it: every
//! 5 s and one tick (at `HZ=250`, Debian's) the number of runnable
//! processes is folded into three decaying averages, in fixed point with
//! 11 bits of fraction, for `/proc/loadavg`.

use crate::process::ProcessState;

use super::SimEngine;

impl SimEngine {
    /// Processes that want a CPU now (`R` in `/proc/loadavg`).
    pub(crate) fn runnable_count(&self) -> u64 {
        self.processes
            .values()
            .filter(|p| p.state != ProcessState::Zombie && p.program.runnable())
            .count() as u64
    }

    /// What is runnable as `reader` sees it: the reader, in the middle of
    /// its `read`, is running too.
    pub(crate) fn runnable_seen_by(&self, reader: crate::process::Pid) -> u64 {
        let counted = self
            .processes
            .get(&reader)
            .is_some_and(|p| p.program.runnable());
        self.runnable_count() + u64::from(!counted && self.processes.contains_key(&reader))
    }
}

/// How often the averages take a sample, in ms (`LOAD_FREQ`).
pub(crate) const LOAD_FREQ_MS: u64 = 5004;

const FSHIFT: u32 = 11;
const FIXED_1: u64 = 1 << FSHIFT;
/// `1/exp(5s/1min)`, `1/exp(5s/5min)` and `1/exp(5s/15min)` in fixed
/// point.
const EXP: [u64; 3] = [1884, 2014, 2037];

#[derive(Clone, Debug)]
pub(crate) struct LoadAverage {
    avenrun: [u64; 3],
    /// When the next sample is due, on the simulated clock.
    next_ms: u64,
}

impl Default for LoadAverage {
    fn default() -> Self {
        LoadAverage {
            avenrun: [0; 3],
            next_ms: LOAD_FREQ_MS,
        }
    }
}

impl LoadAverage {
    /// Whether a sample is due by `now_ms`.
    pub(crate) fn due(&self, now_ms: u64) -> bool {
        self.next_ms <= now_ms
    }

    /// Takes each sample due by `now_ms` with `active` runnable processes
    /// (a clock that skipped idle time takes the samples it skipped).
    pub(crate) fn sample(&mut self, now_ms: u64, active: u64) {
        while self.next_ms <= now_ms {
            for (load, exp) in self.avenrun.iter_mut().zip(EXP) {
                let active = active * FIXED_1;
                let mut new = *load * exp + active * (FIXED_1 - exp);
                if active >= *load {
                    new += FIXED_1 - 1;
                }
                *load = new / FIXED_1;
            }
            self.next_ms += LOAD_FREQ_MS;
        }
    }

    /// The three averages as `/proc/loadavg` begins: `0.42 0.10 0.03`.
    pub(crate) fn text(&self) -> String {
        let shown: Vec<String> = self
            .avenrun
            .iter()
            .map(|load| {
                let load = load + FIXED_1 / 200;
                let whole = load >> FSHIFT;
                let frac = ((load & (FIXED_1 - 1)) * 100) >> FSHIFT;
                format!("{whole}.{frac:02}")
            })
            .collect();
        shown.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_busy_process_climbs_as_the_kernel_computes() {
        let mut load = LoadAverage::default();
        assert_eq!(load.text(), "0.00 0.00 0.00");
        // A minute of one runnable process: 12 samples.
        load.sample(12 * LOAD_FREQ_MS, 1);
        assert_eq!(load.text(), "0.63 0.18 0.06");
        // Then idle for a long while: back to nothing.
        load.sample(400 * LOAD_FREQ_MS, 0);
        assert_eq!(load.text(), "0.00 0.00 0.00");
    }
}
