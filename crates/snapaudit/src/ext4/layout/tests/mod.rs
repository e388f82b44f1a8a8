//! Tests against images built by mke2fs and the e2fsprogs corpus.
