//! Response bodies: whole (almost every response) or streamed (the event stream).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{Either, Full};
use hyper::body::{Body, Bytes, Frame};
use tokio::sync::mpsc;

use super::fair::Slot;

pub type ResponseBody = Either<Full<Bytes>, StreamBody>;

/// Chunks from a channel, sent as they arrive; hyper polls only when the socket can take more,
/// so a slow client leaves the producer waiting on a full channel instead of growing a buffer.
pub struct StreamBody {
    chunks: mpsc::Receiver<Bytes>,
    /// The client's stream place, freed when the stream ends.
    _place: Option<Slot>,
}

impl StreamBody {
    pub fn new(chunks: mpsc::Receiver<Bytes>, place: Option<Slot>) -> Self {
        Self { chunks, _place: place }
    }
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.chunks.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}
