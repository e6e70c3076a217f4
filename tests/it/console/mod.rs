//! The operator console (docs/CONSOLE.md): its files as served, the API it reads (delivery
//! attempt logs, approvals, activity, session), and every page in a real headless Chromium.

mod api;
mod browser;
mod files;
