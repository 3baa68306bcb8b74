//! A cursor that turns fuzzer bytes into structured values. Running out of bytes yields
//! zeros and empty strings, so every input decodes to something.

pub(crate) struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Input(data)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    pub fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let bytes = self.take(N);
        out[..bytes.len()].copy_from_slice(bytes);
        out
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.array())
    }

    /// A length byte, then that many bytes read as (lossy) UTF-8.
    pub fn string(&mut self) -> String {
        let n = self.byte() as usize;
        String::from_utf8_lossy(self.take(n)).into_owned()
    }

    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Writes values the way [`Input`] reads them, for seeds.
#[derive(Default)]
pub(crate) struct Output(pub Vec<u8>);

impl Output {
    pub fn byte(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }

    pub fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn string(mut self, s: &str) -> Self {
        let bytes = &s.as_bytes()[..s.len().min(255)];
        self.0.push(bytes.len() as u8);
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}
