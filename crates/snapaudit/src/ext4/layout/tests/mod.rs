//! Tests against images built by mke2fs at test time and against the
//! e2fsprogs regression-test corpus; e2fsprogs' own tools are the reference.

mod check;
mod corpus;
mod e2fs;
mod fixture;
mod images;
