//! Liveness, judged at the end of a complete history from the instances still in flight
//! (a retired instance was learned by every learner and answered, or never invoked), in two
//! parts reported apart:
//!
//! - learners: every invoked instance learned by every learner of the run header;
//! - clients: every invoked instance answered `ok` at least once (late replies count: a
//!   node whose decisions reach clients only late, or never, must show here, since a
//!   proposer-only node's decisions are visible only through its replies).

use crate::report::{ClientLiveness, Liveness, StuckInstance, UnansweredInstance};
use crate::store::Store;

/// Stuck instances listed per part.
const SHOW_STUCK: usize = 20;

/// Counters the checker kept over the whole run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub invoked_instances: u64,
    pub learned_by_all: u64,
}

pub(crate) fn judge(store: &Store, in_flight: &[u64], learners: &[u64], n: Counts, judged: bool) -> Liveness {
    let mut stuck = Vec::new();
    let mut not_learned = 0;
    let mut unanswered = Vec::new();
    let mut not_answered = 0;
    for id in in_flight {
        let Some(live) = store.get_live(*id).and_then(|i| i.live.as_ref()) else { continue };
        if live.first_invoke.is_none() {
            continue;
        }
        let mut learned_by = live.learned_by.clone();
        learned_by.sort_unstable();
        if !live.answered {
            not_answered += 1;
            if unanswered.len() < SHOW_STUCK {
                unanswered.push(UnansweredInstance {
                    instance: *id,
                    first_invoke_t_us: live.first_invoke.map(|(t, _)| t),
                    invokes: live.invokes,
                    learned_by: learned_by.clone(),
                });
            }
        }
        if live.finished {
            continue;
        }
        not_learned += 1;
        if stuck.len() < SHOW_STUCK {
            let missing = learners.iter().copied().filter(|l| !learned_by.contains(l)).collect();
            stuck.push(StuckInstance {
                instance: *id,
                first_invoke_t_us: live.first_invoke.map(|(t, _)| t),
                learned_by,
                missing,
            });
        }
    }
    let learners_live = judged.then_some(not_learned == 0);
    let clients_live = judged.then_some(not_answered == 0);
    Liveness {
        judged,
        live: judged.then_some(not_learned == 0 && not_answered == 0),
        learners_live,
        learners: learners.to_vec(),
        invoked_instances: n.invoked_instances,
        learned_by_all: n.learned_by_all,
        not_learned_by_all: not_learned,
        stuck_omitted: not_learned - stuck.len() as u64,
        stuck,
        clients: ClientLiveness {
            live: clients_live,
            answered: n.invoked_instances.saturating_sub(not_answered),
            unanswered: not_answered,
            stuck_omitted: not_answered - unanswered.len() as u64,
            stuck: unanswered,
        },
    }
}
