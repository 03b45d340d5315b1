//! `nakachain sim`: placeholder replaced below.
