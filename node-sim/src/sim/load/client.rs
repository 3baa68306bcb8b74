//! One simulated user: its own client (connection pool and all, as a separate process
//! would have), a seeded random sequence of operations, each result checked.

use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uplink_core::client::{ByteRange, Project, UploadOptions};

use super::content::{ContentReader, Verifier};
use super::registry::{ObjectId, ObjectRecord, Registry};
use super::spec::{Mix, OpKind, SizeRange};
use super::stats::{Live, Tally};

/// What all clients of a run share.
pub(super) struct Shared {
    pub bucket: String,
    pub prefix: String,
    pub clients: u32,
    pub mix: Mix,
    pub sizes: SizeRange,
    pub deadline: tokio::time::Instant,
    pub registry: Arc<Registry>,
    pub live: Arc<Live>,
}

impl Shared {
    pub fn client_prefix(&self, client: u32) -> String {
        format!("{}c{client:04}/", self.prefix)
    }

    pub fn key(&self, id: ObjectId) -> String {
        format!("{}o{:06}", self.client_prefix(id.client), id.n)
    }
}

struct Client {
    index: u32,
    project: Project,
    shared: Arc<Shared>,
    rng: StdRng,
    next_n: u32,
    tally: Tally,
}

/// Runs operations until the deadline; the one under way when it passes completes.
pub(super) async fn run(index: u32, seed: u64, project: Project, shared: Arc<Shared>) -> Tally {
    let mut c = Client {
        index,
        project,
        shared,
        rng: StdRng::seed_from_u64(seed),
        next_n: 0,
        tally: Tally::default(),
    };
    while tokio::time::Instant::now() < c.shared.deadline {
        let op = c.shared.mix.choose(&mut c.rng);
        let (ran, ok) = c.run_op(op).await;
        let live = &c.shared.live;
        if ok {
            Live::add(&live.done[ran.index()], 1);
        } else {
            Live::add(&live.errors, 1);
        }
    }
    c.tally
}

impl Client {
    /// Runs `op`, or a put while there is nothing to read or delete. Returns the
    /// operation run and whether it succeeded.
    async fn run_op(&mut self, op: OpKind) -> (OpKind, bool) {
        let ok = match op {
            OpKind::Put => self.put().await,
            OpKind::Get | OpKind::Range => match self.read(op == OpKind::Range).await {
                Some(ok) => return (op, ok),
                None => self.put().await,
            },
            OpKind::List => return (op, self.list().await),
            OpKind::Delete => match self.delete().await {
                Some(ok) => return (op, ok),
                None => self.put().await,
            },
        };
        (OpKind::Put, ok)
    }

    fn mismatch(&mut self, what: String) {
        Live::add(&self.shared.live.mismatches, 1);
        self.tally.mismatch(what);
    }

    async fn put(&mut self) -> bool {
        let id = ObjectId {
            client: self.index,
            n: self.next_n,
        };
        self.next_n += 1;
        let seed: u64 = self.rng.r#gen();
        let size = self.shared.sizes.sample(&mut self.rng);
        let key = self.shared.key(id);
        let started = Instant::now();
        let result = self
            .project
            .upload(
                &self.shared.bucket,
                &key,
                ContentReader::new(seed, size),
                UploadOptions::default(),
            )
            .await;
        match result {
            Ok(entry) => {
                self.tally.success(OpKind::Put, started.elapsed());
                self.tally.bytes_up += size;
                Live::add(&self.shared.live.bytes_up, size);
                if entry.size != size {
                    self.mismatch(format!(
                        "put {key}: the satellite recorded {} bytes of {size}",
                        entry.size
                    ));
                }
                self.shared.registry.add(ObjectRecord { id, seed, size });
                true
            }
            Err(e) => {
                self.tally.failure(OpKind::Put, &e);
                false
            }
        }
    }

    /// Downloads a live object, whole or a random range, comparing every byte. `None`
    /// if there is nothing to read yet.
    async fn read(&mut self, range: bool) -> Option<bool> {
        let guard = self.shared.registry.checkout(&mut self.rng)?;
        let rec = guard.record();
        let op = if range { OpKind::Range } else { OpKind::Get };
        let (byte_range, start, len) = if range && rec.size > 0 {
            let start = self.rng.gen_range(0..rec.size);
            let end = self.rng.gen_range(start..rec.size);
            (
                Some(ByteRange::Inclusive { start, end }),
                start,
                end - start + 1,
            )
        } else {
            (None, 0, rec.size)
        };
        let key = self.shared.key(rec.id);
        let mut verifier = Verifier::new(rec.seed, start);
        let started = Instant::now();
        let result = self
            .project
            .download(&self.shared.bucket, &key, byte_range, &mut verifier, None)
            .await;
        drop(guard);
        let received = verifier.received();
        self.tally.bytes_down += received;
        Live::add(&self.shared.live.bytes_down, received);
        // A wrong byte is a mismatch even when the download then failed.
        let verdict = verifier.finish(len);
        let what = match byte_range {
            Some(_) => format!("{op} {key} bytes {start}..{}", start + len),
            None => format!("{op} {key}"),
        };
        match (result, verdict) {
            (Ok(_), Ok(())) => {
                self.tally.success(op, started.elapsed());
                Some(true)
            }
            (Ok(_), Err(m)) => {
                self.tally.success(op, started.elapsed());
                self.mismatch(format!(
                    "{what} (size {}, seed {}): {m}",
                    rec.size, rec.seed
                ));
                Some(true)
            }
            (Err(e), verdict) => {
                if let Err(super::content::Mismatch::Differs { offset }) = verdict {
                    self.mismatch(format!(
                        "{what} (size {}, seed {}): byte {offset} differs before the download failed",
                        rec.size, rec.seed
                    ));
                }
                self.tally.failure(op, &e);
                Some(false)
            }
        }
    }

    /// Lists one client's prefix; every object known to be committed there before the
    /// listing began and not yet chosen for deletion after it ended must be listed,
    /// with its size.
    async fn list(&mut self) -> bool {
        let client = self.rng.gen_range(0..self.shared.clients);
        let prefix = self.shared.client_prefix(client);
        let before = self.shared.registry.live_of(client);
        let started = Instant::now();
        let result = self
            .project
            .list_objects(&self.shared.bucket, &prefix, true)
            .await;
        let entries = match result {
            Ok(entries) => entries,
            Err(e) => {
                self.tally.failure(OpKind::List, &e);
                return false;
            }
        };
        self.tally.success(OpKind::List, started.elapsed());
        let after = self.shared.registry.live_of(client);
        let listed: std::collections::HashMap<&str, u64> = entries
            .iter()
            .filter(|e| !e.is_prefix)
            .map(|e| (e.key.as_str(), e.size))
            .collect();
        let mut missing = Vec::new();
        for (n, size) in &before {
            if !after.contains_key(n) {
                continue;
            }
            let key = self.shared.key(ObjectId { client, n: *n });
            match listed.get(key.as_str()) {
                Some(s) if s == size => {}
                Some(s) => missing.push(format!("{key} listed with {s} bytes, not {size}")),
                None => missing.push(format!("{key} not listed")),
            }
        }
        missing.sort();
        for m in missing {
            self.mismatch(format!("list {prefix}: {m}"));
        }
        true
    }

    /// Deletes a live object nobody is reading. `None` if there is none.
    async fn delete(&mut self) -> Option<bool> {
        let rec = self.shared.registry.take_for_delete(&mut self.rng)?;
        let key = self.shared.key(rec.id);
        let started = Instant::now();
        match self.project.delete_object(&self.shared.bucket, &key).await {
            Ok(deleted) => {
                self.tally.success(OpKind::Delete, started.elapsed());
                match deleted {
                    Some(entry) if entry.size == rec.size => {}
                    Some(entry) => self.mismatch(format!(
                        "delete {key}: deleted an object of {} bytes, not {}",
                        entry.size, rec.size
                    )),
                    None => self.mismatch(format!(
                        "delete {key}: nothing there, yet its upload was committed"
                    )),
                }
                Some(true)
            }
            Err(e) => {
                // Whether it is gone is unknown: it stays out of the registry, and
                // `cleanup` finds it by listing if it is still there.
                self.tally.failure(OpKind::Delete, &e);
                Some(false)
            }
        }
    }
}
