//! What the provider tests share: the SDK configuration for this binary's moto server; `Subject`,
//! the provider under test with its stack name and the calls the engine makes through core's
//! `Provider` trait (with JSON attributes); `Calls`, an SDK interceptor that records the
//! operations a client sends; and the expectations several test files build the same way.
//!
//! Each test module uses only part of it.
#![allow(dead_code)]

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeSerializationInterceptorContextRef, Input};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use clawform_aws::AwsProvider;
use clawform_core::{Applied, ErrorKind, OpContext, Provider, ProviderError};
use clawform_testkit::unique;
use serde_json::{json, Value as Json};

/// Starts this binary's moto server (once), points the process's AWS environment at it, and
/// loads the SDK configuration from that environment, for raw clients and counted ones.
pub async fn moto_config() -> aws_config::SdkConfig {
    clawform_testkit::moto().set_process_env();
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The provider under test and the stack its resources belong to, with the calls the engine
/// makes: the plain ones panic with the address on any error, the `try_` ones return it.
pub struct Subject {
    pub provider: AwsProvider,
    pub stack: String,
}

impl Subject {
    /// `provider` driving a stack of its own, named `prefix` plus what makes it unique.
    pub fn new(provider: AwsProvider, prefix: &str) -> Subject {
        Subject { provider, stack: unique(prefix) }
    }

    /// The context of an operation on `address` in this stack, as the engine builds it.
    pub fn ctx(&self, address: &str) -> OpContext {
        OpContext::new(self.stack.clone(), address.to_string())
    }

    pub async fn try_create(&self, type_name: &str, address: &str, attributes: &Json) -> Result<Applied, ProviderError> {
        self.provider.create(&self.ctx(address), type_name, attributes).await
    }

    pub async fn create(&self, type_name: &str, address: &str, attributes: &Json) -> Applied {
        self.try_create(type_name, address, attributes).await.unwrap_or_else(|e| panic!("create {address}: {e}"))
    }

    pub async fn try_update(&self, type_name: &str, address: &str, id: &str, prior: &Json, attributes: &Json) -> Result<Applied, ProviderError> {
        self.provider.update(&self.ctx(address), type_name, id, prior, attributes).await
    }

    pub async fn update(&self, type_name: &str, address: &str, id: &str, prior: &Json, attributes: &Json) -> Applied {
        self.try_update(type_name, address, id, prior, attributes).await.unwrap_or_else(|e| panic!("update {address}: {e}"))
    }

    pub async fn read(&self, type_name: &str, ids: &[String]) -> Vec<Option<Json>> {
        self.provider.read(type_name, ids).await.unwrap_or_else(|e| panic!("read {ids:?}: {e}"))
    }

    /// One resource read alone: `None` when it is gone.
    pub async fn read_one(&self, type_name: &str, id: &str) -> Option<Json> {
        let mut all = self.read(type_name, &[id.to_string()]).await;
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    pub async fn try_delete(&self, type_name: &str, address: &str, id: &str, prior: &Json) -> Result<(), ProviderError> {
        self.provider.delete(&self.ctx(address), type_name, id, prior).await
    }

    pub async fn delete(&self, type_name: &str, address: &str, id: &str, prior: &Json) {
        self.try_delete(type_name, address, id, prior).await.unwrap_or_else(|e| panic!("delete {address}: {e}"))
    }

    /// Deletes and checks the read says gone.
    pub async fn delete_and_check_unreadable(&self, type_name: &str, address: &str, id: &str, prior: &Json) {
        self.delete(type_name, address, id, prior).await;
        assert_eq!(self.read_one(type_name, id).await, None, "{address} still readable after delete");
    }

    /// A second delete of something gone must say NotFound (the engine counts that as deleted).
    pub async fn delete_again_is_not_found(&self, type_name: &str, address: &str, id: &str, prior: &Json) {
        let again = self.try_delete(type_name, address, id, prior).await.expect_err("deleting a gone resource must fail");
        assert_eq!(again.kind, ErrorKind::NotFound, "second delete of {address}: {again}");
    }

    /// Deletes, checks the read says gone, and checks a second delete reports NotFound.
    pub async fn delete_and_check_gone(&self, type_name: &str, address: &str, id: &str, prior: &Json) {
        self.delete_and_check_unreadable(type_name, address, id, prior).await;
        self.delete_again_is_not_found(type_name, address, id, prior).await;
    }

    /// The tags clawform must have put on a resource it created at `address`.
    pub fn ownership(&self, address: &str) -> [(String, String); 2] {
        [("clawform:stack".to_string(), self.stack.clone()), ("clawform:address".to_string(), address.to_string())]
    }
}

/// Gives a test's `Env` the methods and fields of the `Subject` in its field `subject`, by
/// `Deref`, beside its own raw SDK clients and helpers.
macro_rules! deref_to_subject {
    ($env:ty) => {
        impl std::ops::Deref for $env {
            type Target = $crate::support::Subject;

            fn deref(&self) -> &$crate::support::Subject {
                &self.subject
            }
        }
    };
}
pub(crate) use deref_to_subject;

/// The prior attributes the engine would pass to update (the state it keeps): what was applied
/// plus computed values.
pub fn state_of(attributes: &Json, applied: &Applied) -> Json {
    let mut state = attributes.clone();
    let map = state.as_object_mut().unwrap();
    map.extend(applied.computed.clone());
    map.insert("id".into(), json!(applied.id));
    state
}

/// The tags a resource must carry in AWS: the user's and clawform's ownership tags.
pub fn expected_tags(user: &[(&str, &str)], ownership: [(String, String); 2]) -> BTreeMap<String, String> {
    user.iter().map(|(k, v)| (k.to_string(), v.to_string())).chain(ownership).collect()
}

/// Decodes a resource body written in YAML as loading a stack does; the paths of the errors if
/// it is refused.
pub fn decode_yaml(type_name: &str, yaml: &str) -> Result<Json, Vec<String>> {
    let body: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
    clawform_aws::registry().get(type_name).unwrap().decode(body).map_err(|errors| errors.into_iter().map(|e| e.path).collect::<Vec<_>>())
}

/// Makes a copy of an operation's input if it is of the type asked for.
type Keep = Arc<dyn Fn(&Input) -> Option<Box<dyn Any + Send>> + Send + Sync>;

/// An SDK interceptor for the clients given to the provider: it records the name of every
/// operation sent, once per operation (not per retry), to check calls are batched, and a copy of
/// the inputs of the types asked for with `keeping` (to see what moto does not keep).
#[derive(Clone, Default)]
pub struct Calls {
    names: Arc<Mutex<Vec<String>>>,
    inputs: Arc<Mutex<Vec<Box<dyn Any + Send>>>>,
    keep: Vec<Keep>,
}

impl Calls {
    /// Also keeps a copy of each input of type `T` sent.
    pub fn keeping<T: Clone + Send + Sync + fmt::Debug + 'static>(mut self) -> Calls {
        self.keep.push(Arc::new(|input: &Input| input.downcast_ref::<T>().map(|input| Box::new(input.clone()) as Box<dyn Any + Send>)));
        self
    }

    /// The operation names recorded since the last take, in the order sent.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.names.lock().expect("not poisoned"))
    }

    pub fn count(calls: &[String], name: &str) -> usize {
        calls.iter().filter(|c| c.as_str() == name).count()
    }

    /// Every input of type `T` sent so far (see `keeping`), in the order sent.
    pub fn inputs<T: Clone + 'static>(&self) -> Vec<T> {
        self.inputs.lock().expect("not poisoned").iter().filter_map(|input| (**input).downcast_ref::<T>().cloned()).collect()
    }
}

impl fmt::Debug for Calls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Calls").field("names", &self.names).field("keeping", &self.keep.len()).finish()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "record calls"
    }

    // Before serialization, once per operation (not per retry), when the operation's metadata
    // is in the bag (it is not yet at `read_before_execution` for a client-level interceptor).
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.names.lock().expect("not poisoned").push(m.name().to_string());
        }
        let kept = self.keep.iter().filter_map(|keep| keep(context.input()));
        self.inputs.lock().expect("not poisoned").extend(kept);
        Ok(())
    }
}

/// The AWS behaviour layer in front of moto with `config`, and a subject whose provider talks
/// to moto through it.
pub async fn behind_layer(config: clawform_testkit::BehaviourConfig, prefix: &str) -> (clawform_testkit::BehaviourProxy, Subject) {
    let moto = clawform_testkit::moto();
    moto.set_process_env();
    let layer = clawform_testkit::BehaviourProxy::start(&moto.endpoint, config);
    let settings = clawform_aws::AwsSettings { region: Some("us-west-2".into()), profile: None, endpoint_url: Some(layer.endpoint.clone()) };
    let provider = clawform_aws::AwsProvider::load(&settings).await.expect("a provider behind the behaviour layer");
    (layer, Subject::new(provider, prefix))
}
