//! A server left running for months (docs/API.md §2.15, §7.4): restarted by upgrades and
//! reboots, stopped by systemd, and growing. Schedules survive restarts, a clean stop sends
//! nothing twice, everything that grows has retention, and a search sees every acknowledged
//! write.

mod read_your_writes;
mod retention;
mod schedules;
mod shutdown;
