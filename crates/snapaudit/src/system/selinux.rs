//! TODO(system helper)
