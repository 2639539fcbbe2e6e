//! hostnames
