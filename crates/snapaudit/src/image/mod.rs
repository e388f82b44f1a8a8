//! image: see DESIGN.md.
