//! Custom resources of the awsinvite.io group.
