//! Tests against images built by mke2fs at test time and against the
//! e2fsprogs regression-test corpus; e2fsprogs' own tools are the reference.

mod check;
mod corpus;
mod e2fs;
mod fixture;
mod images;
mod perf;

/// Scanner threads share one `Layout`.
#[test]
fn layout_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<super::Layout<'static>>();
}
