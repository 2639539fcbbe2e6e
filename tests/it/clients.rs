//! Owned by the clients work (being written): docker, skopeo and the docker SDK.
