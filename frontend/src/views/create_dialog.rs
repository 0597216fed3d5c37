//! The create dialog: image, command, hostname, the seven namespace toggles with what
//! each isolates, and limits.

use isolab_shared::limits::{parse_cpus, parse_memory, parse_pids, Limits};
use isolab_shared::{ContainerSpec, NamespaceKind, NamespaceSet};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The form's fields, as typed.
#[derive(Clone, Debug, PartialEq)]
pub struct CreateForm {
    pub name: String,
    pub image: String,
    pub command: String,
    pub hostname: String,
    pub namespaces: NamespaceSet,
    pub memory: String,
    pub cpus: String,
    pub pids: String,
}

impl Default for CreateForm {
    fn default() -> Self {
        CreateForm {
            name: String::new(),
            image: isolab_shared::HOST_IMAGE.to_string(),
            command: "/bin/sh".to_string(),
            hostname: String::new(),
            namespaces: NamespaceSet::default(),
            memory: "128M".to_string(),
            cpus: "0.5".to_string(),
            pids: "64".to_string(),
        }
    }
}

fn optional(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

impl CreateForm {
    /// The spec this form asks for, or the first thing wrong with it.
    pub fn to_spec(&self) -> Result<ContainerSpec, String> {
        let limits = Limits {
            memory_bytes: optional(&self.memory)
                .map(|m| parse_memory(&m))
                .transpose()
                .map_err(|e| e.to_string())?,
            cpus: optional(&self.cpus)
                .map(|c| parse_cpus(&c))
                .transpose()
                .map_err(|e| e.to_string())?,
            pids: optional(&self.pids)
                .map(|p| parse_pids(&p))
                .transpose()
                .map_err(|e| e.to_string())?,
        };
        let spec = ContainerSpec {
            name: optional(&self.name),
            image: optional(&self.image).unwrap_or_else(|| isolab_shared::HOST_IMAGE.to_string()),
            command: self.command.split_whitespace().map(String::from).collect(),
            hostname: optional(&self.hostname),
            namespaces: self.namespaces.clone(),
            limits,
            ..ContainerSpec::default()
        };
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

/// Props of [`CreateDialog`].
#[derive(Properties, PartialEq)]
pub struct CreateDialogProps {
    /// Called with a valid spec.
    pub on_create: Callback<ContainerSpec>,
    pub on_cancel: Callback<()>,
    /// An error from the last attempt (shown under the form).
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub busy: bool,
}

/// The create form.
#[function_component(CreateDialog)]
pub fn create_dialog(props: &CreateDialogProps) -> Html {
    let form = use_state(CreateForm::default);
    let problem = use_state(|| None::<String>);
    let text_field =
        |label: &'static str, id: &'static str, value: String, set: fn(&mut CreateForm, String)| {
            let form = form.clone();
            let oninput = Callback::from(move |e: InputEvent| {
                let input: HtmlInputElement = e.target_unchecked_into();
                let mut f = (*form).clone();
                set(&mut f, input.value());
                form.set(f);
            });
            html! {
                <label class="field" for={id}>
                    <span>{ label }</span>
                    <input id={id} name={id} type="text" {value} {oninput} />
                </label>
            }
        };
    let toggles = NamespaceKind::ALL.iter().map(|&kind| {
        let form = form.clone();
        let checked = form.namespaces.contains(kind);
        let onchange = Callback::from(move |_| {
            let mut f = (*form).clone();
            if f.namespaces.contains(kind) {
                f.namespaces.0.remove(&kind);
            } else {
                f.namespaces.0.insert(kind);
            }
            form.set(f);
        });
        let id = format!("ns-toggle-{}", kind.name());
        html! {
            <label class={classes!("ns-toggle", format!("ns-{}", kind.name()))} for={id.clone()}>
                <input type="checkbox" id={id} {checked} {onchange} />
                <span class="ns-chip">{ kind.name() }</span>
                <span class="ns-why">{ kind.description() }</span>
            </label>
        }
    });
    let onsubmit = {
        let form = form.clone();
        let problem = problem.clone();
        let on_create = props.on_create.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match form.to_spec() {
                Ok(spec) => {
                    problem.set(None);
                    on_create.emit(spec);
                }
                Err(why) => problem.set(Some(why)),
            }
        })
    };
    let cancel = props.on_cancel.reform(|_: MouseEvent| ());
    let error = (*problem).clone().or_else(|| props.error.clone());
    html! {
        <form class="card create-dialog" aria-label="create a container" {onsubmit}>
            <h3>{"New container"}</h3>
            <div class="fields">
                { text_field("Name", "create-name", form.name.clone(), |f, v| f.name = v) }
                { text_field("Image", "create-image", form.image.clone(), |f, v| f.image = v) }
                { text_field("Command", "create-command", form.command.clone(), |f, v| f.command = v) }
                { text_field("Hostname", "create-hostname", form.hostname.clone(), |f, v| f.hostname = v) }
            </div>
            <fieldset class="ns-toggles">
                <legend>{"Namespaces to create (unchecked ones are shared with the host)"}</legend>
                { for toggles }
            </fieldset>
            <fieldset class="fields limits">
                <legend>{"Limits (empty = none)"}</legend>
                { text_field("Memory", "create-memory", form.memory.clone(), |f, v| f.memory = v) }
                { text_field("CPUs", "create-cpus", form.cpus.clone(), |f, v| f.cpus = v) }
                { text_field("Max tasks", "create-pids", form.pids.clone(), |f, v| f.pids = v) }
            </fieldset>
            if let Some(e) = error {
                <p class="form-error" role="alert">{ e }</p>
            }
            <div class="buttons">
                <button type="submit" class="primary" disabled={props.busy}>{"Create and start"}</button>
                <button type="button" onclick={cancel}>{"Cancel"}</button>
            </div>
        </form>
    }
}
