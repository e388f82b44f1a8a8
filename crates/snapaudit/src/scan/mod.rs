//! scan: see DESIGN.md.
