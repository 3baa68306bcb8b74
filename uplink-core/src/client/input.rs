//! Reading an upload's input in exact amounts, with one byte of look-ahead so that a
//! stream of unknown length is cut into segments without buffering a whole segment.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Fills `buf` from `reader` unless it ends first; returns the bytes read.
pub(crate) async fn read_full<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

pub(crate) struct Input<R> {
    reader: R,
    peeked: Option<u8>,
    eof: bool,
}

impl<R: AsyncRead + Unpin> Input<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            peeked: None,
            eof: false,
        }
    }

    /// Fills `buf` completely unless the input ends first; returns the bytes read.
    pub async fn read_full(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(b) = self.peeked.take() {
            buf[0] = b;
            filled = 1;
        }
        if !self.eof {
            filled += read_full(&mut self.reader, &mut buf[filled..]).await?;
            self.eof = filled < buf.len();
        }
        Ok(filled)
    }

    /// Whether the input has ended (reads one byte ahead if needed).
    pub async fn at_eof(&mut self) -> std::io::Result<bool> {
        if self.peeked.is_some() {
            return Ok(false);
        }
        if self.eof {
            return Ok(true);
        }
        let mut b = [0u8; 1];
        if self.reader.read(&mut b).await? == 0 {
            self.eof = true;
            return Ok(true);
        }
        self.peeked = Some(b[0]);
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn exact_reads_and_lookahead() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut input = Input::new(&data[..]);
        let mut buf = [0u8; 40];
        assert_eq!(input.read_full(&mut buf).await.unwrap(), 40);
        assert!(!input.at_eof().await.unwrap());
        assert_eq!(input.read_full(&mut buf).await.unwrap(), 40);
        assert_eq!(buf[0], 40);
        assert_eq!(input.read_full(&mut buf).await.unwrap(), 20);
        assert_eq!(buf[19], 99);
        assert!(input.at_eof().await.unwrap());
        assert_eq!(input.read_full(&mut buf).await.unwrap(), 0);
    }
}
