//! Owned by the clients work (being written): private mount namespaces for real clients.
