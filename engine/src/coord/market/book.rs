//! A continuous double auction: a bounded limit order book with price-time priority.
//!
//! An arriving order trades against the best opposite prices first and, within a price,
//! against the earliest resting order; every trade is at the resting order's price. A limit
//! order's remainder rests; a market order's remainder is dropped (reported as
//! `remaining`). The book holds at most `capacity` resting orders: an order whose remainder
//! would have to rest in a full book is refused with `book_full` before anything trades,
//! so a refusal never leaves a half-applied order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::coord::error::CoordError;
use crate::coord::money::Money;
use crate::coord::request::{Order, Side};
use crate::coord::validate::{check_id, check_positive};

/// An order resting in the book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestingOrder {
    /// The id the book gave it.
    pub order_id: u64,
    /// The trader.
    pub agent_id: String,
    /// Buy or sell.
    pub side: Side,
    /// Its limit.
    pub limit: Money,
    /// Units still open.
    pub remaining: u64,
}

/// One trade made by an arriving order against a resting one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookFill {
    /// The resting order traded against.
    pub maker_order_id: u64,
    /// Its trader.
    pub maker_agent_id: String,
    /// Units traded.
    pub quantity: u64,
    /// The resting order's price.
    pub price: Money,
}

/// What became of a submitted order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The id given to the order.
    pub order_id: u64,
    /// Units traded on arrival.
    pub filled: u64,
    /// Units not traded (resting for a limit order, dropped for a market order).
    pub remaining: u64,
    /// Whether the remainder rests in the book.
    pub resting: bool,
    /// Trades, best price first.
    pub fills: Vec<BookFill>,
}

/// A bounded limit order book.
#[derive(Debug, Clone)]
pub struct OrderBook {
    capacity: usize,
    bids: BTreeMap<Reverse<Money>, VecDeque<RestingOrder>>,
    asks: BTreeMap<Money, VecDeque<RestingOrder>>,
    index: HashMap<u64, (Side, Money)>,
    next_id: u64,
}

impl OrderBook {
    /// An empty book that holds at most `capacity` resting orders.
    pub fn new(capacity: usize) -> OrderBook {
        OrderBook {
            capacity,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            index: HashMap::new(),
            next_id: 1,
        }
    }

    /// Resting orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when nothing rests.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The most resting orders the book holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Best bid: (price, units at that price).
    pub fn best_bid(&self) -> Option<(Money, u64)> {
        self.bids
            .iter()
            .next()
            .map(|(p, q)| (p.0, q.iter().map(|o| o.remaining).sum()))
    }

    /// Best ask: (price, units at that price).
    pub fn best_ask(&self) -> Option<(Money, u64)> {
        self.asks
            .iter()
            .next()
            .map(|(p, q)| (*p, q.iter().map(|o| o.remaining).sum()))
    }

    /// Up to `levels` price levels of one side, best first: (price, units).
    pub fn depth(&self, side: Side, levels: usize) -> Vec<(Money, u64)> {
        let sum = |q: &VecDeque<RestingOrder>| q.iter().map(|o| o.remaining).sum();
        match side {
            Side::Buy => self
                .bids
                .iter()
                .take(levels)
                .map(|(p, q)| (p.0, sum(q)))
                .collect(),
            Side::Sell => self
                .asks
                .iter()
                .take(levels)
                .map(|(p, q)| (*p, sum(q)))
                .collect(),
        }
    }

    /// Submits an order: trades on arrival, then rests a limit order's remainder.
    pub fn submit(&mut self, order: &Order) -> Result<Submission, CoordError> {
        check_id("order.agent_id", &order.agent_id)?;
        if order.quantity == 0 {
            return Err(CoordError::InvalidQuantity {
                field: "order.quantity".into(),
            });
        }
        if let Some(limit) = order.limit {
            check_positive("order.limit", limit, "a limit must be positive")?;
        }
        let crosses = |price: Money| match (order.side, order.limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => price <= l,
            (Side::Sell, Some(l)) => price >= l,
        };
        // Dry run: how much trades and how many resting orders are used up.
        let (mut matchable, mut consumed) = (0u64, 0usize);
        let levels: Box<dyn Iterator<Item = (Money, &VecDeque<RestingOrder>)>> = match order.side {
            Side::Buy => Box::new(self.asks.iter().map(|(p, q)| (*p, q))),
            Side::Sell => Box::new(self.bids.iter().map(|(p, q)| (p.0, q))),
        };
        'dry: for (price, queue) in levels {
            if !crosses(price) {
                break;
            }
            for resting in queue {
                let take = resting.remaining.min(order.quantity - matchable);
                matchable += take;
                if take == resting.remaining {
                    consumed += 1;
                }
                if matchable == order.quantity {
                    break 'dry;
                }
            }
        }
        let rests = order.limit.is_some() && matchable < order.quantity;
        if rests && self.len() - consumed >= self.capacity {
            return Err(CoordError::BookFull {
                capacity: self.capacity,
            });
        }
        let order_id = self.next_id;
        self.next_id += 1;
        let mut fills = Vec::new();
        let mut left = order.quantity;
        while left > 0 {
            let (price, queue) = match order.side {
                Side::Buy => match self.asks.first_entry() {
                    Some(e) if crosses(*e.key()) => (*e.key(), e.into_mut()),
                    _ => break,
                },
                Side::Sell => match self.bids.first_entry() {
                    Some(e) if crosses(e.key().0) => (e.key().0, e.into_mut()),
                    _ => break,
                },
            };
            while left > 0 {
                let Some(front) = queue.front_mut() else {
                    break;
                };
                let take = front.remaining.min(left);
                front.remaining -= take;
                left -= take;
                fills.push(BookFill {
                    maker_order_id: front.order_id,
                    maker_agent_id: front.agent_id.clone(),
                    quantity: take,
                    price,
                });
                if front.remaining == 0 {
                    let done = front.order_id;
                    queue.pop_front();
                    self.index.remove(&done);
                }
            }
            if queue.is_empty() {
                match order.side {
                    Side::Buy => self.asks.remove(&price),
                    Side::Sell => self.bids.remove(&Reverse(price)),
                };
            }
        }
        let resting = match order.limit {
            Some(limit) if left > 0 => {
                let entry = RestingOrder {
                    order_id,
                    agent_id: order.agent_id.clone(),
                    side: order.side,
                    limit,
                    remaining: left,
                };
                match order.side {
                    Side::Buy => self
                        .bids
                        .entry(Reverse(limit))
                        .or_default()
                        .push_back(entry),
                    Side::Sell => self.asks.entry(limit).or_default().push_back(entry),
                }
                self.index.insert(order_id, (order.side, limit));
                true
            }
            _ => false,
        };
        Ok(Submission {
            order_id,
            filled: order.quantity - left,
            remaining: left,
            resting,
            fills,
        })
    }

    /// Cancels a resting order and hands it back.
    pub fn cancel(&mut self, order_id: u64) -> Result<RestingOrder, CoordError> {
        let (side, price) = self
            .index
            .remove(&order_id)
            .ok_or(CoordError::UnknownOrder { order_id })?;
        let take = |queue: &mut VecDeque<RestingOrder>| {
            let at = queue.iter().position(|o| o.order_id == order_id)?;
            queue.remove(at)
        };
        let removed = match side {
            Side::Buy => {
                let queue = self.bids.get_mut(&Reverse(price));
                let removed = queue.and_then(take);
                if self
                    .bids
                    .get(&Reverse(price))
                    .is_some_and(VecDeque::is_empty)
                {
                    self.bids.remove(&Reverse(price));
                }
                removed
            }
            Side::Sell => {
                let removed = self.asks.get_mut(&price).and_then(take);
                if self.asks.get(&price).is_some_and(VecDeque::is_empty) {
                    self.asks.remove(&price);
                }
                removed
            }
        };
        removed.ok_or(CoordError::UnknownOrder { order_id })
    }

    /// Every resting order, bids best first then asks best first (time order within a price).
    pub fn resting(&self) -> Vec<RestingOrder> {
        self.bids
            .values()
            .chain(self.asks.values())
            .flatten()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn buy(q: u64, l: i64) -> Order {
        Order::limit("b", Side::Buy, q, Money(l))
    }
    fn sell(q: u64, l: i64) -> Order {
        Order::limit("s", Side::Sell, q, Money(l))
    }

    #[test]
    fn price_time_priority_at_the_resting_price() {
        let mut book = OrderBook::new(10);
        let a = book.submit(&sell(2, 101)).unwrap().order_id;
        let b = book.submit(&sell(2, 100)).unwrap().order_id;
        let c = book.submit(&sell(2, 100)).unwrap().order_id;
        let s = book.submit(&buy(5, 105)).unwrap();
        let got: Vec<_> = s
            .fills
            .iter()
            .map(|f| (f.maker_order_id, f.quantity, f.price))
            .collect();
        assert_eq!(
            got,
            [(b, 2, Money(100)), (c, 2, Money(100)), (a, 1, Money(101))]
        );
        assert!(!s.resting);
        assert_eq!(book.best_ask(), Some((Money(101), 1)));
        // A market sell finds no bids: nothing trades, nothing rests.
        let m = book
            .submit(&Order {
                limit: None,
                ..sell(3, 1)
            })
            .unwrap();
        assert_eq!((m.filled, m.remaining, m.resting), (0, 3, false));
    }

    #[test]
    fn partial_fills_rest_and_cancel() {
        let mut book = OrderBook::new(10);
        book.submit(&sell(3, 50)).unwrap();
        let s = book.submit(&buy(5, 60)).unwrap();
        assert_eq!((s.filled, s.remaining, s.resting), (3, 2, true));
        assert_eq!(book.best_bid(), Some((Money(60), 2)));
        let back = book.cancel(s.order_id).unwrap();
        assert_eq!(back.remaining, 2);
        assert!(book.is_empty());
        assert_eq!(book.cancel(s.order_id).unwrap_err().code(), "unknown_order");
    }

    #[test]
    fn a_full_book_refuses_before_trading() {
        let mut book = OrderBook::new(2);
        book.submit(&buy(1, 10)).unwrap();
        book.submit(&buy(1, 11)).unwrap();
        assert_eq!(book.submit(&buy(1, 12)).unwrap_err().code(), "book_full");
        assert_eq!(book.len(), 2);
        // A sell that trades fully never needs to rest, so it is accepted.
        assert!(book.submit(&sell(1, 5)).is_ok());
        // A sell consuming one bid and resting the rest fits in the freed slot.
        assert!(book.submit(&sell(2, 5)).unwrap().resting);
        assert_eq!(book.len(), 1);
        assert_eq!(
            book.submit(&sell(0, 5)).unwrap_err().code(),
            "invalid_quantity"
        );
    }

    proptest! {
        /// Conservation and rationality: units traded equal on both sides, trades happen at
        /// the resting limit which the arriving order's limit covers, and the book never
        /// crosses or exceeds its capacity.
        #[test]
        fn book_invariants(ops in prop::collection::vec((any::<bool>(), 1u64..5, 90i64..110, any::<bool>()), 1..60)) {
            let mut book = OrderBook::new(8);
            for (is_buy, q, l, market) in ops {
                let side = if is_buy { Side::Buy } else { Side::Sell };
                let order = Order { agent_id: "t".into(), side, quantity: q, limit: (!market).then_some(Money(l)) };
                let before: u64 = book.resting().iter().map(|o| o.remaining).sum();
                match book.submit(&order) {
                    Ok(s) => {
                        let traded: u64 = s.fills.iter().map(|f| f.quantity).sum();
                        prop_assert_eq!(traded, s.filled);
                        for f in &s.fills {
                            if let Some(limit) = order.limit {
                                let covered = if is_buy { f.price <= limit } else { f.price >= limit };
                                prop_assert!(covered);
                            }
                        }
                        let after: u64 = book.resting().iter().map(|o| o.remaining).sum();
                        let added = if s.resting { s.remaining } else { 0 };
                        prop_assert_eq!(after + traded, before + added);
                    }
                    Err(e) => prop_assert_eq!(e.code(), "book_full"),
                }
                prop_assert!(book.len() <= 8);
                if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
                    prop_assert!(b.0 < a.0);
                }
            }
        }
    }
}
