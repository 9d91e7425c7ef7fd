//! A site's life, in one place: the places where it gives help (in the national data
//! standard), the application by which a structure asks to become a qualified site, its
//! qualification (granted until a date, suspended with a reason, or withdrawn for good), and
//! the bank details it is paid to. The site itself is an organisation (`orgs`).

pub mod applications;
pub mod bank;
pub mod places;
pub mod qualification;
