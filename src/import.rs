//! `import`: brings a resource that exists in AWS, made outside clawform, under a stack's
//! management. The address must be declared in the stack and not yet be in its state; the
//! resource is read through the provider by the id a user gives (the Terraform provider's import
//! id) and written into state with the attributes the stack manages, so the next plan shows only
//! what really differs.

use std::collections::BTreeSet;

use clawform_core::value::{references_in, Reference};
use clawform_core::{Provider, Stack, State, StateResource};
use serde_json::{Map, Value as Json};

use crate::{Workspace, WorkspaceError};

fn refused(message: String) -> WorkspaceError {
    WorkspaceError::Import(message)
}

/// Imports the live resource `id` as `address` of `stack`, under the stack's lock; returns what
/// was written into state.
pub async fn import(workspace: &Workspace, stack: &Stack, address: &str, id: &str, provider: &dyn Provider) -> Result<StateResource, WorkspaceError> {
    let config = stack.resources.get(address).ok_or_else(|| {
        refused(format!("stack `{}` declares no resource `{address}`; declare it (its type and the attributes to manage) first, then import it", stack.name))
    })?;
    let kind = workspace.registry().get(&config.type_name).ok_or_else(|| refused(format!("unknown resource type `{}`", config.type_name)))?;
    workspace
        .with_lock(&stack.name, "import", async || {
            let mut state = workspace.state(&stack.name).await?.unwrap_or_else(|| State::new(&stack.name));
            if let Some(existing) = state.get(address) {
                return Err(refused(format!(
                    "`{address}` of stack `{}` is already managed (id {}); `clawform state show {} {address}` shows it",
                    stack.name, existing.id, stack.name
                )));
            }
            let type_name = config.type_name.as_str();
            let read_id = provider.import_id(type_name, id).await.map_err(|e| refused(format!("{type_name} `{id}`: {e}")))?;
            let live = match provider.read(type_name, std::slice::from_ref(&read_id)).await {
                Ok(found) => found.into_iter().next().flatten(),
                Err(e) if e.kind == clawform_core::ErrorKind::NotFound => None,
                Err(e) => return Err(refused(format!("cannot read {type_name} `{id}`: {e}"))),
            };
            let live = live.ok_or_else(|| refused(format!("there is no {type_name} with id `{id}` in this account and region")))?;
            // What the stack manages, and what the cloud assigned: nothing else, so AWS's defaults
            // for attributes the stack leaves out never show as changes.
            let managed: BTreeSet<&str> =
                config.attributes.as_object().into_iter().flatten().map(|(k, _)| k.as_str()).chain(kind.computed().iter().copied()).chain(["id"]).collect();
            let attributes: Map<String, Json> =
                live.as_object().into_iter().flatten().filter(|(k, _)| managed.contains(k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut attributes = Json::Object(attributes);
            clawform_core::plan::mask_sensitive(&mut attributes, kind.sensitive(), &state.lineage);
            let stored_id = live.get("id").and_then(Json::as_str).unwrap_or(&read_id).to_string();
            let mut refs = Vec::new();
            let _ = references_in(&config.attributes, &mut refs);
            let mut dependencies: Vec<String> =
                refs.into_iter().filter_map(|r| if let Reference::Resource { address, .. } = r { Some(address) } else { None }).collect();
            dependencies.extend(config.depends_on.iter().cloned());
            dependencies.sort();
            dependencies.dedup();
            let resource = StateResource { address: address.to_string(), type_name: type_name.to_string(), id: stored_id, attributes, dependencies };
            state.put(resource.clone());
            state.serial += 1;
            workspace.backend().save(&state).await?;
            Ok(resource)
        })
        .await
}
