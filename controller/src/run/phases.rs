//! The run loop: start-up, then the workload phase, then the final phase, each a function.
//!
//! Every phase goes in turns: wait for an event, a message or a nemesis action coming due,
//! a tick, or an interrupt; then the ops past their deadline end, the phase does its part
//! (the workload fills up and the schedule's actions are taken; the final phase chases what
//! is not learned or answered), and the turn ends the same way in both (the invokes sent,
//! the progress line, the history flushed, the disk looked at). The final phase begins in
//! the turn that ends the workload.

use super::runner::{Phase, Runner};
use super::shutdown::Shutdown;
use super::{CHASE_EVERY_MS, DISK_CHECK_MS, TICK_MS};
use crate::net::conn::Event;
use anyhow::{Context, Result};
use std::time::Duration;
use tokio::time::{Instant, Interval};

/// Why a wait ended: a turn to take, or an interrupt.
#[derive(PartialEq, Eq)]
pub(super) enum Wake {
    Turn,
    Interrupted,
}

/// The turns of the workload and final phases: when the workload began (history clock), and
/// the tick (a real run's timer; a simulated run ticks on its own clock).
pub(super) struct Turns {
    pub(super) start_us: u64,
    tick: Interval,
    /// When a simulated run ticks next.
    pub(super) next_tick_us: u64,
}

impl Runner<'_> {
    /// Start-up, the workload, the final phase. The caller stops the nodes and checks the
    /// history whatever this returns.
    pub(super) async fn drive(&mut self, mut shutdown: Shutdown) -> Result<()> {
        if !self.start_up(&mut shutdown).await? {
            return Ok(());
        }
        let start_us = self.record_phase("workload");
        self.nemesis.start(start_us);
        let mut tick = tokio::time::interval(Duration::from_millis(TICK_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut turns = Turns { start_us, tick, next_tick_us: start_us };
        let workload_end = self.workload_phase(&mut turns, &mut shutdown).await?;
        if self.final_phase(&mut turns, &mut shutdown, workload_end).await? {
            self.check_final_state();
        }
        Ok(())
    }

    /// Fills the workload and takes the schedule's actions until the time is up, the
    /// `--instances` are all decided, or an interrupt comes. Returns when it ended (history
    /// clock).
    async fn workload_phase(&mut self, turns: &mut Turns, shutdown: &mut Shutdown) -> Result<u64> {
        let end_us = turns.start_us + secs_to_us(self.cfg.time_s);
        loop {
            if self.wait(turns, shutdown, 1).await? == Wake::Interrupted {
                tracing::warn!("interrupted: healing and converging (interrupt again to cut this short)");
                self.workload_cut = true;
            }
            let now_us = self.history.now_us();
            self.expire(now_us);
            let done = self.workload_cut
                || now_us >= end_us
                || (self.workload.exhausted() && self.workload.in_flight() == 0);
            if done {
                return Ok(now_us);
            }
            self.apply_due(now_us);
            self.workload.fill(now_us);
            self.end_turn(Phase::Workload, turns.start_us)?;
        }
    }

    /// Heals everything (at `now`, in the turn that ended the workload), then chases every
    /// instance not yet learned everywhere or answered, until none is left, the final phase's
    /// time is up, or a second interrupt cuts it short. Returns false if cut short.
    async fn final_phase(&mut self, turns: &mut Turns, shutdown: &mut Shutdown, now_us: u64) -> Result<bool> {
        self.record_phase("final");
        self.heal_all();
        let end_us = now_us + secs_to_us(self.cfg.final_s);
        let mut next_chase_us = 0;
        self.end_turn(Phase::Final, turns.start_us)?;
        loop {
            if self.wait(turns, shutdown, 2).await? == Wake::Interrupted {
                tracing::warn!("interrupted again: cutting the final phase short");
                self.interrupted = true;
                return Ok(false);
            }
            let now_us = self.history.now_us();
            self.expire(now_us);
            let converged = self.workload.unlearned() == 0 && self.workload.unanswered() == 0;
            if converged || now_us >= end_us {
                self.drop_invokes();
                return Ok(true);
            }
            if now_us >= next_chase_us {
                next_chase_us = now_us + CHASE_EVERY_MS * 1000;
                self.workload.chase(now_us);
            }
            self.end_turn(Phase::Final, turns.start_us)?;
        }
    }

    /// Waits for the next thing to do: events (handled), messages due (delivered), the
    /// tick, or the `interrupts`th interrupt.
    async fn wait(&mut self, turns: &mut Turns, shutdown: &mut Shutdown, interrupts: u32) -> Result<Wake> {
        if self.nodes.is_simulated() {
            return Ok(self.sim_wait(turns, shutdown, interrupts).await);
        }
        let due = self.next_due();
        tokio::select! {
            ev = self.events.recv() => self.handle_queued(ev.context("event channel closed")?),
            _ = sleep_until(due) => {
                self.net.deliver_due(&self.history);
                self.after_deliveries();
            }
            _ = turns.tick.tick() => {}
            _ = shutdown.reached(interrupts) => return Ok(Wake::Interrupted),
        }
        Ok(Wake::Turn)
    }

    /// The end of every turn: what the workload invoked is sent, the progress line drawn,
    /// the history flushed. A disk in trouble stops the run.
    fn end_turn(&mut self, phase: Phase, start_us: u64) -> Result<()> {
        self.send_invokes();
        self.report_progress(phase, start_us);
        // A real run hands each turn's lines to the writer, so that a killed controller
        // leaves them on disk; a simulated one's turns are microseconds apart, and it hands
        // them over by the batch (64 KiB), or the writer's wakeups would cost more than the
        // simulation (the seed regenerates what a killed simulation lost).
        if !self.history.is_simulated() {
            self.history.flush_batch();
        }
        if let Some(why) = self.disk_trouble() {
            self.disk_full = Some(why.clone());
            anyhow::bail!(why);
        }
        Ok(())
    }

    /// Why the run cannot go on for its disk: the history writer failed, or (looked at every
    /// DISK_CHECK_MS) the run folder's disk is full.
    fn disk_trouble(&mut self) -> Option<String> {
        if let Some(failure) = self.history.write_failure() {
            return Some(failure);
        }
        let now = Instant::now();
        if now < self.next_disk_check {
            return None;
        }
        self.next_disk_check = now + Duration::from_millis(DISK_CHECK_MS);
        crate::disk::full(&self.run_path)
    }

    /// When the next message is due, or (in the workload) the next nemesis action.
    fn next_due(&self) -> Option<Instant> {
        self.next_due_us().map(|us| self.history_instant(us))
    }

    /// [`Runner::next_due`] on the history clock.
    pub(super) fn next_due_us(&self) -> Option<u64> {
        [self.net.next_due_us(), self.nemesis.next_action_us()].into_iter().flatten().min()
    }

    /// Handles `ev`, then what else is queued (up to a bound) before the next timer check.
    fn handle_queued(&mut self, ev: Event) {
        self.handle(ev);
        for _ in 0..1024 {
            match self.events.try_recv() {
                Ok(ev) => self.handle(ev),
                Err(_) => break,
            }
        }
    }
}

/// `s` seconds in microseconds (a run's `--time` and `--final-s`).
fn secs_to_us(s: f64) -> u64 {
    (s * 1e6) as u64
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
