/** The filter form of the list pages: its fields, Apply (which navigates to the filtered URL) and Refresh. */
import { useState } from 'preact/hooks';

/** One field of a filter form: a text input, a datetime-local input, or a select when `options` is set. */
export interface FilterField<K extends string> {
  name: K;
  label: string;
  type?: 'datetime-local';
  placeholder?: string;
  inputMode?: 'numeric';
  /** The choices of a select; an "any" choice (no filter) comes first. */
  options?: readonly string[];
}

/** The time range the messages and the requests lists both filter on (local time; localToIso turns it into ISO). */
export const TIME_RANGE_FIELDS: ReadonlyArray<FilterField<'since' | 'until'>> = [
  { name: 'since', label: 'Since', type: 'datetime-local' },
  { name: 'until', label: 'Until', type: 'datetime-local' },
];

/**
 * The form keeps what is typed until Apply hands it to `onApply` (so typing does not reload the
 * list); `values` are the filters in force, from the URL. Each field is named by its label.
 */
export function FilterForm<K extends string>({
  label,
  fields,
  values,
  onApply,
  onRefresh,
}: {
  label: string;
  fields: ReadonlyArray<FilterField<K>>;
  values: Record<K, string>;
  onApply(values: Record<K, string>): void;
  onRefresh(): void;
}) {
  const [form, setForm] = useState(values);
  const set = (k: K) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  return (
    <form
      class="filters card"
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        onApply(form);
      }}
    >
      {fields.map((f) => {
        const common = { name: f.name, value: form[f.name] };
        return (
          <label key={f.name}>
            {f.label}{' '}
            {f.options ? (
              <select {...common} onChange={set(f.name)}>
                <option value="">any</option>
                {f.options.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            ) : f.type === 'datetime-local' ? (
              <input {...common} type="datetime-local" onInput={set(f.name)} />
            ) : (
              <input {...common} inputMode={f.inputMode} placeholder={f.placeholder} onInput={set(f.name)} />
            )}
          </label>
        );
      })}
      <button type="submit">Apply filters</button>
      <button type="button" class="secondary" onClick={onRefresh}>
        Refresh
      </button>
    </form>
  );
}
