//! ext4: see DESIGN.md.
