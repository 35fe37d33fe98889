//! Counting AWS API calls: an SDK interceptor on every client records each operation (by
//! service and name), its attempts (retries included) and the time spent in it. `--stats` prints
//! it; benchmarks read it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;

/// Calls of one operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OperationStats {
    /// Operations made (a retried operation counts once).
    pub calls: u64,
    /// HTTP attempts (retries included).
    pub attempts: u64,
    /// Wall time spent in these operations, summed.
    #[serde(serialize_with = "as_millis")]
    pub time: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Every AWS API call made through the clients, by `(service, operation)`.
#[derive(Debug, Clone, Default)]
pub struct ApiStats {
    inner: Arc<Mutex<BTreeMap<(String, String), OperationStats>>>,
}

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Started>;
}

impl ApiStats {
    /// A snapshot of the counts.
    pub fn snapshot(&self) -> BTreeMap<(String, String), OperationStats> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Operations made in all.
    pub fn total_calls(&self) -> u64 {
        self.snapshot().values().map(|s| s.calls).sum()
    }

    /// Forgets what was counted.
    pub fn reset(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.clear();
        }
    }

    fn with(&self, cfg: &ConfigBag, f: impl FnOnce(&mut OperationStats)) {
        let key = match cfg.load::<Metadata>() {
            Some(m) => (m.service().to_string(), m.name().to_string()),
            None => ("?".to_string(), "?".to_string()),
        };
        if let Ok(mut map) = self.inner.lock() {
            f(map.entry(key).or_default());
        }
    }
}

impl Intercept for ApiStats {
    fn name(&self) -> &'static str {
        "clawform api stats"
    }

    fn read_before_serialization(
        &self,
        _c: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_transmit(&self, _c: &BeforeTransmitInterceptorContextRef<'_>, _rc: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        self.with(cfg, |s| s.attempts += 1);
        Ok(())
    }

    fn read_after_execution(&self, _c: &FinalizerInterceptorContextRef<'_>, _rc: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let elapsed = cfg.load::<Started>().map(|s| s.0.elapsed()).unwrap_or_default();
        self.with(cfg, |s| {
            s.calls += 1;
            s.time += elapsed;
        });
        Ok(())
    }
}
