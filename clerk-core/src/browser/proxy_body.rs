//! The bodies of the Frontend API proxy's requests: any framework's body
//! made sendable by reqwest, or one fed through a channel.

use bytes::Bytes;

/// A request body reqwest can send: reqwest wants `Sync`, which axum's
/// body is not; this one is only ever polled through `&mut`
/// ([`SyncWrapper`](sync_wrapper::SyncWrapper)), and keeps the body's size
/// hint so a `Content-Length` still reaches the upstream.
pub(super) struct SyncBody<B> {
    inner: sync_wrapper::SyncWrapper<std::pin::Pin<Box<B>>>,
    hint: http_body::SizeHint,
}

impl<B: http_body::Body> SyncBody<B> {
    pub(super) fn new(body: B) -> Self {
        let hint = body.size_hint();
        Self {
            inner: sync_wrapper::SyncWrapper::new(Box::pin(body)),
            hint,
        }
    }
}

impl<B: http_body::Body> http_body::Body for SyncBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.inner.get_mut().as_mut().poll_frame(cx)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.hint
    }
}

/// A request body fed through a channel, for frameworks whose bodies
/// cannot leave their thread (actix's `Payload`): the adapter reads its
/// body where it lives and sends the chunks here.
pub struct ChannelBody {
    chunks: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    hint: http_body::SizeHint,
}

/// The sending half of a [`ChannelBody`].
pub type BodySender = tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>;

/// A channel body of `length` bytes when known (its `Content-Length`).
pub fn channel_body(length: Option<u64>) -> (BodySender, ChannelBody) {
    let (tx, chunks) = tokio::sync::mpsc::channel(4);
    let hint = length.map_or_else(
        http_body::SizeHint::default,
        http_body::SizeHint::with_exact,
    );
    (tx, ChannelBody { chunks, hint })
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        self.chunks
            .poll_recv(cx)
            .map(|c| c.map(|c| c.map(http_body::Frame::data)))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.hint
    }
}
