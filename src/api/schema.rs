//! Rewrites of the generated CRD schemas that the derive macros cannot express, applied by
//! [`super::crds`] to every schema of every version.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    JSONSchemaPropsOrStringArray,
};

use super::prose::join_wrapped_lines;

/// Calls `f` on every schema of every version of `crd`, nested ones included.
pub fn for_each_schema(crd: &mut CustomResourceDefinition, f: &mut dyn FnMut(&mut JSONSchemaProps)) {
    for version in &mut crd.spec.versions {
        if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            visit(schema, f);
        }
    }
}

/// Rewrites every `description` with [`join_wrapped_lines`], so that `kubectl explain` wraps
/// each paragraph once (see `src/api/prose.rs`).
pub fn join_descriptions(crd: &mut CustomResourceDefinition) {
    for_each_schema(crd, &mut |s| {
        if let Some(d) = s.description.as_mut() {
            *d = join_wrapped_lines(d);
        }
    });
}

/// Drops `nullable: true` (which schemars writes for every `Option`), so that an explicit
/// `null` means "unset". Helm templates, Kustomize and Argo CD write `field: null` for an
/// optional field left empty; the API server prunes a `null` in a field that is not nullable
/// before defaulting and validation ("Defaulting and Nullable" in the Kubernetes
/// CustomResourceDefinition documentation), whereas a nullable field keeps the `null` and then
/// fails its enum, pattern and CEL rules. No field of these APIs gives `null` a meaning of its own.
pub fn null_means_unset(crd: &mut CustomResourceDefinition) {
    for_each_schema(crd, &mut |s| s.nullable = None);
}

/// Calls `f` on `schema` and on every schema nested in it.
pub fn visit(schema: &mut JSONSchemaProps, f: &mut dyn FnMut(&mut JSONSchemaProps)) {
    f(schema);
    let maps = [
        schema.properties.as_mut(),
        schema.pattern_properties.as_mut(),
        schema.definitions.as_mut(),
    ];
    for map in maps.into_iter().flatten() {
        for child in map.values_mut() {
            visit(child, f);
        }
    }
    for list in [schema.all_of.as_mut(), schema.any_of.as_mut(), schema.one_of.as_mut()]
        .into_iter()
        .flatten()
    {
        for child in list {
            visit(child, f);
        }
    }
    if let Some(not) = schema.not.as_mut() {
        visit(not, f);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(child)) => visit(child, f),
        Some(JSONSchemaPropsOrArray::Schemas(children)) => children.iter_mut().for_each(|c| visit(c, f)),
        None => {}
    }
    for extra in [schema.additional_properties.as_mut(), schema.additional_items.as_mut()]
        .into_iter()
        .flatten()
    {
        if let JSONSchemaPropsOrBool::Schema(child) = extra {
            visit(child, f);
        }
    }
    for dependency in schema.dependencies.iter_mut().flat_map(|d| d.values_mut()) {
        if let JSONSchemaPropsOrStringArray::Schema(child) = dependency {
            visit(child, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_every_nested_description() {
        use std::collections::BTreeMap;
        let leaf = |d: &str| JSONSchemaProps {
            description: Some(d.to_owned()),
            ..Default::default()
        };
        let mut root = JSONSchemaProps {
            description: Some("root\nline".into()),
            properties: Some(BTreeMap::from([("p".to_owned(), leaf("prop\nline"))])),
            items: Some(JSONSchemaPropsOrArray::Schema(Box::new(leaf("item\nline")))),
            additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(leaf("extra\nline")))),
            all_of: Some(vec![leaf("all\nline")]),
            any_of: Some(vec![leaf("any\nline")]),
            one_of: Some(vec![leaf("one\nline")]),
            not: Some(Box::new(leaf("not\nline"))),
            ..Default::default()
        };
        let mut seen = Vec::new();
        visit(&mut root, &mut |s| {
            if let Some(d) = s.description.as_mut() {
                *d = join_wrapped_lines(d);
                seen.push(d.clone());
            }
        });
        seen.sort();
        assert_eq!(
            seen,
            [
                "all line",
                "any line",
                "extra line",
                "item line",
                "not line",
                "one line",
                "prop line",
                "root line"
            ]
        );
    }
}
