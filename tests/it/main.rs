//! End-to-end tests: the built binary, run as a subprocess, against the lab's fake AWS
//! API (moto behind fronts), real registries and real clients.

mod support;

mod cache;
mod cache_attack;
mod clients;
mod credentials;
mod endpoints;
mod errors;
mod faults;
mod hostnames;
mod protocol;
mod stampede;
