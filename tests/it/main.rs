//! End-to-end tests: the built binary, run as a subprocess, against the lab's fake AWS
//! API (moto behind fronts), real registries and real clients.

mod support;

mod bad_input;
mod cache;
mod cache_attack;
mod clients;
mod configure;
mod credentials;
mod doctor;
mod endpoints;
mod errors;
mod faults;
mod hostnames;
mod load;
mod logging;
mod login;
mod protocol;
mod settings;
mod stampede;
