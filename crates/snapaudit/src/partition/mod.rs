//! partition: see DESIGN.md.
