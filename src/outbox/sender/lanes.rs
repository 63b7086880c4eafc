//! The sender's in-memory view of its pending jobs: one FIFO per lane, and
//! which lane heads may start.
//!
//! A lane's head is *idle* (it may start: it is in `ready`), *running* (in
//! flight, or its outcome waits to be recorded) or *parked* (it waits until a
//! time: a retry, or room in its chat; it is in `waiting`). Ready heads start
//! by priority, then age. A topic creation goes to the head of its lane
//! (behind a running head), since everything else in a topic lane needs the
//! topic. The sets may hold stale entries (a lane whose head changed since);
//! they are checked and skipped, so a job can never start twice.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};

use tokio::time::Instant;

use crate::outbox::queue::Row;
use crate::outbox::{Lane, Priority};

/// Pending jobs by lane, and which lanes may start their head job.
#[derive(Default)]
pub(super) struct Lanes {
    lanes: HashMap<Lane, LaneJobs>,
    /// Heads that may start now: (priority, job id, lane).
    ready: BTreeSet<(Priority, i64, Lane)>,
    /// Lanes waiting to retry their head, by when.
    waiting: BinaryHeap<Reverse<(Instant, Lane)>>,
    /// Jobs held, per priority (indexed by `Priority as usize`).
    held: [usize; Priority::ALL.len()],
}

#[derive(Default)]
struct LaneJobs {
    jobs: VecDeque<Row>,
    state: State,
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    #[default]
    Idle,
    Running,
    Parked,
}

impl Lanes {
    /// Queues a loaded job: at the end of its lane, or, for a topic
    /// creation, at the head (behind a running head).
    pub(super) fn push(&mut self, row: Row) {
        self.held[row.priority as usize] += 1;
        let lane = self.lanes.entry(row.lane.clone()).or_default();
        let first = row.job.creates_topic();
        if first && lane.state == State::Running {
            lane.jobs.insert(1.min(lane.jobs.len()), row);
        } else if first || lane.jobs.is_empty() {
            if lane.state == State::Idle {
                self.ready.insert((row.priority, row.id, row.lane.clone()));
            }
            lane.jobs.push_front(row);
        } else {
            lane.jobs.push_back(row);
        }
    }

    /// Puts `row` before the head of a lane whose head just ended (its
    /// outcome was recorded): `row` starts next.
    pub(super) fn put_first(&mut self, lane: &Lane, row: Row) {
        let Some(jobs) = self.lanes.get_mut(lane) else {
            return;
        };
        self.held[row.priority as usize] += 1;
        jobs.state = State::Idle;
        self.ready.insert((row.priority, row.id, lane.clone()));
        jobs.jobs.push_front(row);
    }

    /// Takes the best ready head and marks its lane running.
    pub(super) fn start_next(&mut self) -> Option<Row> {
        while let Some((_, id, name)) = self.ready.pop_first() {
            let Some(lane) = self.lanes.get_mut(&name) else {
                continue;
            };
            if lane.state != State::Idle || lane.jobs.front().map(|head| head.id) != Some(id) {
                continue;
            }
            lane.state = State::Running;
            return lane.jobs.front().cloned();
        }
        None
    }

    /// The job at the head of a lane: the running one, for a running lane.
    pub(super) fn head(&self, lane: &Lane) -> Option<&Row> {
        self.lanes.get(lane).and_then(|l| l.jobs.front())
    }

    /// The head is finished: the next job of the lane becomes ready.
    pub(super) fn advance(&mut self, name: &Lane) {
        let Some(lane) = self.lanes.get_mut(name) else {
            return;
        };
        if let Some(done) = lane.jobs.pop_front() {
            self.held[done.priority as usize] -= 1;
        }
        lane.state = State::Idle;
        match lane.jobs.front() {
            Some(next) => {
                self.ready.insert((next.priority, next.id, name.clone()));
            }
            None => {
                self.lanes.remove(name);
            }
        }
    }

    /// The head failed for now: it runs again at `at`, nothing else in its
    /// lane before it.
    pub(super) fn retry(&mut self, lane: &Lane, at: Instant) {
        if let Some(head) = self.lanes.get_mut(lane).and_then(|l| l.jobs.front_mut()) {
            head.attempts += 1;
        }
        self.park(lane, at);
    }

    /// The head may not start before `at`.
    pub(super) fn park(&mut self, name: &Lane, at: Instant) {
        if let Some(lane) = self.lanes.get_mut(name) {
            lane.state = State::Parked;
            self.waiting.push(Reverse((at, name.clone())));
        }
    }

    /// Parked heads whose time has come become ready.
    pub(super) fn promote_due(&mut self, now: Instant) {
        while let Some(Reverse((at, _))) = self.waiting.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, name))) = self.waiting.pop() else {
                break;
            };
            if let Some(lane) = self.lanes.get_mut(&name) {
                if lane.state != State::Parked {
                    continue;
                }
                lane.state = State::Idle;
                if let Some(head) = lane.jobs.front() {
                    self.ready.insert((head.priority, head.id, name));
                }
            }
        }
    }

    pub(super) fn next_retry(&self) -> Option<Instant> {
        self.waiting.peek().map(|Reverse((at, _))| *at)
    }

    /// How many jobs of `priority` are held.
    pub(super) fn held(&self, priority: Priority) -> usize {
        self.held[priority as usize]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::outbox::{Action, Job, Purpose, Target};

    fn row(id: i64, lane: Lane) -> Row {
        Row {
            id,
            priority: lane.priority(),
            lane,
            chat: 1,
            job: Job {
                purpose: Purpose::UserNotice { dialog: 1 },
                action: Action::SendText {
                    to: Target::User(1),
                    text: id.to_string(),
                    html: false,
                    reply_to: None,
                },
            },
            attempts: 0,
        }
    }

    fn create_topic(id: i64, lane: Lane) -> Row {
        Row {
            job: Job {
                purpose: Purpose::TopicChange { dialog: 1 },
                action: Action::CreateTopic {
                    dialog: 1,
                    name: "x".into(),
                    replaces: None,
                },
            },
            ..row(id, lane)
        }
    }

    /// Starts and finishes every job it can, in order.
    fn drain(lanes: &mut Lanes) -> Vec<i64> {
        std::iter::from_fn(|| {
            let row = lanes.start_next()?;
            lanes.advance(&row.lane);
            Some(row.id)
        })
        .collect()
    }

    #[test]
    fn one_job_per_lane_at_a_time_in_priority_then_age_order() {
        let mut lanes = Lanes::default();
        lanes.push(row(1, Lane::Topic(1)));
        lanes.push(row(2, Lane::Topic(1)));
        lanes.push(row(3, Lane::User(2)));
        lanes.push(row(4, Lane::General));
        let order: Vec<i64> = std::iter::from_fn(|| lanes.start_next().map(|r| r.id)).collect();
        // The topic lane's second job (2) waits behind its first (1).
        assert_eq!(order, [3, 1, 4]);
        assert_eq!(lanes.held(Priority::Inbound), 2);
        lanes.advance(&Lane::Topic(1));
        assert_eq!(lanes.held(Priority::Inbound), 1);
        assert_eq!(lanes.start_next().map(|r| r.id), Some(2));
        assert!(lanes.start_next().is_none());
    }

    #[test]
    fn a_retrying_head_blocks_its_lane_until_due() {
        let mut lanes = Lanes::default();
        let (a, b) = (Lane::User(1), Lane::User(2));
        lanes.push(row(1, a.clone()));
        lanes.push(row(2, a.clone()));
        lanes.push(row(3, b));
        assert_eq!(lanes.start_next().map(|r| r.id), Some(1));
        let now = Instant::now();
        lanes.retry(&a, now + Duration::from_secs(5));
        assert_eq!(lanes.start_next().map(|r| r.id), Some(3));
        assert!(lanes.start_next().is_none());
        lanes.promote_due(now + Duration::from_secs(4));
        assert!(lanes.start_next().is_none());
        assert_eq!(lanes.next_retry(), Some(now + Duration::from_secs(5)));
        lanes.promote_due(now + Duration::from_secs(5));
        let retried = lanes.start_next().unwrap();
        assert_eq!((retried.id, retried.attempts), (1, 1));
    }

    #[test]
    fn a_topic_creation_heads_its_lane_but_never_overtakes_a_running_head() {
        let mut lanes = Lanes::default();
        let t = Lane::Topic(1);
        lanes.push(row(1, t.clone()));
        lanes.push(row(2, t.clone()));
        lanes.push(create_topic(3, t.clone()));
        assert_eq!(
            lanes.start_next().map(|r| r.id),
            Some(3),
            "loaded idle: first"
        );
        lanes.advance(&t);
        assert_eq!(lanes.start_next().map(|r| r.id), Some(1));
        lanes.push(create_topic(4, t.clone()));
        assert!(lanes.start_next().is_none(), "1 is still running");
        lanes.advance(&t);
        assert_eq!(drain(&mut lanes), [4, 2]);
    }

    #[test]
    fn a_replacement_goes_before_the_head_that_found_the_topic_deleted() {
        let mut lanes = Lanes::default();
        let t = Lane::Topic(1);
        lanes.push(row(1, t.clone()));
        lanes.push(row(2, t.clone()));
        assert_eq!(lanes.start_next().map(|r| r.id), Some(1));
        lanes.put_first(&t, create_topic(9, t.clone()));
        assert_eq!(drain(&mut lanes), [9, 1, 2]);
        assert_eq!(lanes.held(Priority::Inbound), 0);
    }
}
