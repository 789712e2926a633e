//! orgs-emulator: a local AWS Organizations emulator (see README.md).
