//! rules: see DESIGN.md.
