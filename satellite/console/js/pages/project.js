// Creating a project, and a project's settings (rename, describe, delete).

import { api } from '../api.js';
import { state, navigate, link, setProject, reloadProjects } from '../app.js';
import {
  h, icon, mount, field, validate, rules, busy, errorRegion, setError, confirmDialog, toast, alertBox, timeEl,
} from '../ui.js';
import { forgetRootKey } from '../secrets.js';

function nameField(value) {
  return field({
    id: 'project-name', label: 'Project name', placeholder: 'e.g. Photo archive', value,
    attrs: { maxlength: '100', autocomplete: 'off' },
  });
}

function descriptionField(value) {
  return field({
    id: 'project-description', label: 'Description', textarea: true, optional: true, value,
    placeholder: 'What is this project for?', attrs: { rows: '3', maxlength: '500' },
  });
}

export function create({ content }) {
  const first = state.projects.length === 0;
  const name = nameField('');
  name.input.setAttribute('autofocus', '');
  const description = descriptionField('');
  const err = errorRegion('project-error');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'project-create', 'data-testid': 'project-create' }, 'Create project');
  mount(content,
    h('div', { class: 'page-head' },
      h('div', null,
        h('h1', { id: 'page-title' }, first ? 'Create your first project' : 'New project'),
        h('p', null, 'A project holds buckets, API keys and members, and has its own usage limits. Each project has its own encryption salt, so the same passphrase gives different keys in different projects.'))),
    h('form', {
      class: 'card narrow', id: 'project-form', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        setError(err, '');
        if (!validate([[name, rules.required('Project name')], [name, rules.maxLength(100, 'Project name')]])) return;
        try {
          const p = await busy(submit, () => api.createProject(name.input.value.trim(), description.input.value.trim()), 'Creating…');
          setProject(p);
          toast(`Project ${p.name} created`);
          navigate(`/projects/${encodeURIComponent(p.id)}`);
        } catch (e2) {
          if (e2.code === 'conflict') name.setError(e2.message);
          else setError(err, e2.message);
        }
      },
    },
    h('div', { class: 'card-body' }, err, name.el, description.el),
    h('div', { class: 'card-foot' },
      first ? h('span') : h('a', { class: 'btn', href: link('/') }, 'Cancel'),
      submit)));
  setTimeout(() => name.input.focus(), 0);
}

export function settings(ctx) {
  const { content, project } = ctx;
  const isOwner = project.role === 'owner';
  const name = nameField(project.name);
  const description = descriptionField(project.description || '');
  const err = errorRegion('project-settings-error');
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'project-save', 'data-testid': 'project-save' }, 'Save changes');
  if (!isOwner) {
    for (const x of [name.input, description.input, save]) x.disabled = true;
  }
  const form = h('form', {
    class: 'card', id: 'project-settings-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      setError(err, '');
      if (!validate([[name, rules.required('Project name')], [name, rules.maxLength(100, 'Project name')]])) return;
      const changes = {};
      if (name.input.value.trim() !== project.name) changes.name = name.input.value.trim();
      if (description.input.value.trim() !== (project.description || '')) changes.description = description.input.value.trim();
      if (!Object.keys(changes).length) { toast('Nothing to save'); return; }
      try {
        const updated = await busy(save, () => api.updateProject(project.id, changes), 'Saving…');
        setProject(updated || { ...project, ...changes });
        toast('Project saved');
        ctx.rerender();
      } catch (e2) {
        setError(err, e2.message);
      }
    },
  },
  h('div', { class: 'card-head' }, h('div', null, h('h2', null, 'General'), h('p', null, isOwner ? 'Shown to every member.' : 'Only the owner can change these.'))),
  h('div', { class: 'card-body' }, err, name.el, description.el,
    h('dl', { class: 'kv', style: 'margin-top:6px' },
      h('dt', null, 'Project ID'), h('dd', null, h('code', null, project.id)),
      h('dt', null, 'Created'), h('dd', null, timeEl(project.created_at)))),
  h('div', { class: 'card-foot' }, h('span', { class: 'muted small' }, ''), save));

  const del = h('button', {
    type: 'button', class: 'btn btn-danger', id: 'project-delete', 'data-testid': 'project-delete', disabled: !isOwner,
    onclick: async () => {
      const done = await confirmDialog({
        title: `Delete project ${project.name}?`,
        body: h('div', null,
          h('p', { class: 'muted' }, 'Its API keys stop working at once and its members lose access. A project that still has buckets cannot be deleted: delete them first, for example with ',
            h('code', null, 'uplink rb --force sj://bucket'), '.')),
        confirmLabel: 'Delete project',
        typeToConfirm: project.name,
        action: () => api.deleteProject(project.id),
      });
      if (!done) return;
      forgetRootKey(project.id);
      await reloadProjects().catch(() => {});
      toast(`Project ${project.name} deleted`);
      navigate('/', { replace: true });
    },
  }, icon('trash', 'icon-sm'), 'Delete project');

  mount(content,
    h('div', { class: 'page-head' }, h('div', null, h('h1', { id: 'page-title' }, 'Project settings'))),
    h('div', { class: 'narrow' },
      form,
      h('section', { class: 'card', style: 'border-color:#fecaca' },
        h('div', { class: 'card-head' }, h('div', null, h('h2', { style: 'color:var(--danger)' }, 'Delete project'),
          h('p', null, isOwner ? 'Deleting a project cannot be undone.' : 'Only the owner can delete this project.'))),
        h('div', { class: 'card-body' }, del)),
      isOwner ? null : alertBox('info', 'You are a member of this project. To stop using it, leave it on the Members page.', { style: 'margin-top:20px' })));
}
