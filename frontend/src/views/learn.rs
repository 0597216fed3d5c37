//! Lessons: how containers are made from namespaces and cgroups.

use isolab_shared::NamespaceKind;
use yew::prelude::*;

/// The Learn view: the seven namespace kinds and what each isolates.
#[function_component(LearnView)]
pub fn learn_view() -> Html {
    html! {
        <section class="card">
            <h2>{"What a container is made of"}</h2>
            <p>{"A container is an ordinary process that the kernel shows a different view of the \
                 system. Each namespace kind isolates one part of that view:"}</p>
            <ul class="ns-list">
                { for NamespaceKind::ALL.iter().map(|k| html! {
                    <li class={classes!("ns", format!("ns-{}", k.name()))}>
                        <code>{ k.name() }</code>{" ("}{ k.clone_flag_name() }{"): "}{ k.description() }
                    </li>
                }) }
            </ul>
        </section>
    }
}
