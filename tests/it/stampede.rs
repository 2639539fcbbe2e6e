//! stampede
