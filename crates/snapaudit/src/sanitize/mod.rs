//! sanitize: see DESIGN.md.
