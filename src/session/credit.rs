//! Flow-control credit: how many bytes a peer may still send for one
//! request. All arithmetic is checked: credit from the peer that would
//! overflow or exceed [`MAX_WINDOW`] is an error, never a panic.

use crate::proto::MAX_WINDOW;

/// Why credit could not be granted or spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Granting would take the window past [`MAX_WINDOW`] (or overflow).
    #[error("window credit exceeds the limit of {MAX_WINDOW} bytes")]
    TooLarge,
    /// More bytes were sent than the window allowed.
    #[error("{len} bytes sent with only {available} bytes of window")]
    Exceeded {
        /// Bytes sent.
        len: u64,
        /// Credit that was left.
        available: u64,
    },
}

/// The credit left in one direction of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credit {
    /// `None`: no flow control in this direction.
    available: Option<u64>,
}

impl Credit {
    /// A window of `initial` bytes; fails above [`MAX_WINDOW`].
    pub fn new(initial: u64) -> Result<Self, CreditError> {
        if initial > MAX_WINDOW {
            return Err(CreditError::TooLarge);
        }
        Ok(Self {
            available: Some(initial),
        })
    }

    /// No flow control: every send fits.
    pub fn unlimited() -> Self {
        Self { available: None }
    }

    /// True for a window made with [`Credit::unlimited`].
    pub fn is_unlimited(&self) -> bool {
        self.available.is_none()
    }

    /// Bytes that may be sent now.
    pub fn available(&self) -> u64 {
        self.available.unwrap_or(u64::MAX)
    }

    /// Return `n` bytes of credit.
    pub fn grant(&mut self, n: u64) -> Result<(), CreditError> {
        if let Some(a) = self.available {
            let total = a.checked_add(n).ok_or(CreditError::TooLarge)?;
            if total > MAX_WINDOW {
                return Err(CreditError::TooLarge);
            }
            self.available = Some(total);
        }
        Ok(())
    }

    /// Use `n` bytes of credit.
    pub fn spend(&mut self, n: u64) -> Result<(), CreditError> {
        if let Some(a) = self.available {
            if n > a {
                return Err(CreditError::Exceeded {
                    len: n,
                    available: a,
                });
            }
            self.available = Some(a - n);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_arithmetic() {
        let mut c = Credit::new(10).unwrap();
        c.spend(4).unwrap();
        assert_eq!(c.available(), 6);
        assert_eq!(
            c.spend(7),
            Err(CreditError::Exceeded {
                len: 7,
                available: 6
            })
        );
        c.grant(4).unwrap();
        assert_eq!(c.available(), 10);
        assert_eq!(c.grant(u64::MAX), Err(CreditError::TooLarge));
        assert_eq!(c.grant(MAX_WINDOW), Err(CreditError::TooLarge));
        assert_eq!(c.available(), 10, "a refused grant changes nothing");
        assert_eq!(Credit::new(MAX_WINDOW + 1), Err(CreditError::TooLarge));
        let mut u = Credit::unlimited();
        u.spend(u64::MAX).unwrap();
        u.grant(u64::MAX).unwrap();
        assert!(u.is_unlimited());
    }
}
