//! Monte Carlo replay of a whole network: `nodes` nodes, each leaving at rate λ and
//! replaced by an empty node, and `samples` segments placed on distinct random nodes.
//!
//! Event-driven: the next departure of the network (rate `nodes·λ`, the departing node
//! uniform: the superposition of every node's exponential lifetime) or the next
//! repair due, whichever is first. At each departure the affected segments are
//! recounted and judged with the satellite's `verdict`; a segment newly queued gets a
//! repair due after detection plus a fixed or exponential delay; a repair uploads
//! `pieces_to_rebuild` pieces to random nodes not already holding one. This models
//! node departures rather than independent pieces, so agreement with [`super::exact`]
//! also checks that the per-piece model fits a network whose segments share nodes.
//! Standard errors: the spread over segments, treated as independent (sharing nodes
//! correlates them a little, so tests keep pieces per node small). All segments also
//! share one realised departure count, whose relative noise is `1/√departures`;
//! repair traffic and queue depth are about proportional to it, so their standard
//! errors include that term. The loss's does not: a binomial spread dominates it.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use satellite::repair::health::{Verdict, verdict};

use super::Outcome;
use super::settings::{DelayKind, Settings};
use super::window::repair_pieces;

/// What the replay measured.
#[derive(Clone, Debug)]
pub struct Sampled {
    pub outcome: Outcome,
    pub samples: usize,
    pub lost: u64,
    /// Standard errors of the outcome's loss probability, pieces moved (downloaded plus
    /// uploaded) per segment, and queued fraction.
    pub loss_standard_error: f64,
    pub pieces_moved_standard_error: f64,
    pub queued_standard_error: f64,
    /// Node departures replayed.
    pub departures: u64,
    pub seed: u64,
}

/// A repair that falls due.
#[derive(Clone, Copy, Debug)]
struct Due {
    at: f64,
    segment: u32,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    /// Earliest first in a max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .total_cmp(&self.at)
            .then(other.segment.cmp(&self.segment))
    }
}

#[derive(Clone, Debug, Default)]
struct Segment {
    nodes: Vec<u32>,
    queued_at: Option<f64>,
    lost: bool,
    pieces_moved: u64,
    downloaded: u64,
    uploaded: u64,
    repairs: u32,
    waited: f64,
}

struct Replay<'a> {
    settings: &'a Settings,
    rng: StdRng,
    node_segments: Vec<Vec<u32>>,
    segments: Vec<Segment>,
    due: BinaryHeap<Due>,
    lost: u64,
}

impl Replay<'_> {
    fn exp(&mut self, mean: f64) -> f64 {
        let u: f64 = self.rng.r#gen();
        -(1.0 - u).ln() * mean
    }

    fn place(&mut self, segment: u32, count: u16) {
        let n = self.node_segments.len() as u32;
        for _ in 0..count {
            let node = loop {
                let node = self.rng.gen_range(0..n);
                if !self.segments[segment as usize].nodes.contains(&node) {
                    break node;
                }
            };
            self.segments[segment as usize].nodes.push(node);
            self.node_segments[node as usize].push(segment);
        }
    }

    fn queue(&mut self, segment: u32, now: f64) {
        let delay = self.settings.delay_seconds();
        let wait = match self.settings.delay_kind {
            DelayKind::Fixed => delay,
            DelayKind::Exponential => self.exp(delay),
        };
        self.segments[segment as usize].queued_at = Some(now);
        self.due.push(Due {
            at: now + wait,
            segment,
        });
    }

    /// Queues the segment if the checker would.
    fn check(&mut self, segment: u32, now: f64) {
        let settings = self.settings;
        let seg = &mut self.segments[segment as usize];
        match verdict(&settings.scheme, seg.nodes.len() as u16) {
            Verdict::Lost => {
                seg.lost = true;
                if let Some(t) = seg.queued_at.take() {
                    seg.waited += now - t;
                }
                self.lost += 1;
            }
            Verdict::Repair if seg.queued_at.is_none() => self.queue(segment, now),
            Verdict::Repair | Verdict::Healthy => {}
        }
    }

    fn depart(&mut self, node: u32, now: f64) {
        let holders = std::mem::take(&mut self.node_segments[node as usize]);
        for segment in holders {
            let seg = &mut self.segments[segment as usize];
            if seg.lost {
                continue;
            }
            if let Some(i) = seg.nodes.iter().position(|&n| n == node) {
                seg.nodes.swap_remove(i);
            }
            self.check(segment, now);
        }
    }

    fn repair(&mut self, segment: u32, now: f64) {
        let scheme = self.settings.scheme;
        let seg = &mut self.segments[segment as usize];
        if seg.lost {
            return;
        }
        if let Some(t) = seg.queued_at.take() {
            seg.waited += now - t;
        }
        let (down, up) = repair_pieces(&scheme, seg.nodes.len() as u16);
        if up > 0 {
            seg.repairs += 1;
            seg.downloaded += down as u64;
            seg.uploaded += up as u64;
            seg.pieces_moved += (down + up) as u64;
        }
        self.place(segment, up);
        self.check(segment, now);
    }
}

/// Replays `samples` segments on the network of `settings` with a seeded generator.
pub fn run(settings: &Settings, samples: usize, seed: u64) -> Sampled {
    let horizon = settings.horizon_seconds();
    let mut replay = Replay {
        settings,
        rng: StdRng::seed_from_u64(seed),
        node_segments: vec![Vec::new(); settings.nodes],
        segments: vec![Segment::default(); samples],
        due: BinaryHeap::new(),
        lost: 0,
    };
    for segment in 0..samples as u32 {
        replay.place(segment, settings.scheme.optimal);
        replay.check(segment, 0.0);
    }
    let mean_gap = 1.0 / (settings.nodes as f64 * settings.rate());
    let mut next_departure = replay.exp(mean_gap);
    let mut departures = 0u64;
    loop {
        let next_repair = replay.due.peek().map_or(f64::INFINITY, |d| d.at);
        if next_departure.min(next_repair) > horizon {
            break;
        }
        if next_departure <= next_repair {
            let node = replay.rng.gen_range(0..settings.nodes as u32);
            replay.depart(node, next_departure);
            departures += 1;
            next_departure += replay.exp(mean_gap);
        } else if let Some(due) = replay.due.pop() {
            replay.repair(due.segment, due.at);
        }
    }
    for seg in &mut replay.segments {
        if let (Some(t), false) = (seg.queued_at.take(), seg.lost) {
            seg.waited += horizon - t;
        }
    }
    summarise(&replay, samples, departures, seed, horizon)
}

fn summarise(replay: &Replay, samples: usize, departures: u64, seed: u64, horizon: f64) -> Sampled {
    let n = samples.max(1) as f64;
    let mean_se = |f: &dyn Fn(&Segment) -> f64| {
        let (sum, sq) = replay
            .segments
            .iter()
            .map(f)
            .fold((0.0, 0.0), |(s, q), x| (s + x, q + x * x));
        let mean = sum / n;
        let var = (sq / n - mean * mean).max(0.0) * n / (n - 1.0).max(1.0);
        (mean, (var / n).sqrt())
    };
    let (loss, loss_se) = mean_se(&|s| s.lost as u8 as f64);
    let (moved, moved_se) = mean_se(&|s| s.pieces_moved as f64);
    let (queued, queued_se) = mean_se(&|s| s.waited / horizon);
    // The network-wide departure count moves every segment's traffic and waiting
    // together (both about proportional to it).
    let shared = 1.0 / (departures.max(1) as f64).sqrt();
    let moved_se = moved_se.hypot(moved * shared);
    let queued_se = queued_se.hypot(queued * shared);
    let (repairs, _) = mean_se(&|s| s.repairs as f64);
    let (down, _) = mean_se(&|s| s.downloaded as f64);
    let (up, _) = mean_se(&|s| s.uploaded as f64);
    debug_assert!((moved - down - up).abs() <= 1e-9 * moved.max(1.0));
    Sampled {
        outcome: Outcome {
            loss_probability: loss,
            repairs,
            pieces_downloaded: down,
            pieces_uploaded: up,
            queued_fraction: queued,
        },
        samples,
        lost: replay.lost,
        loss_standard_error: loss_se,
        pieces_moved_standard_error: moved_se,
        queued_standard_error: queued_se,
        departures,
        seed,
    }
}
