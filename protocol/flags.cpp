// The flags' published values: a persistent AVL tree (path copying), so
// that each committed change makes a new version in O(log n).
#include "protocol/flags.hpp"

#include <algorithm>
#include <vector>

namespace echopilot::flags {

using nlohmann::json;

namespace {

/// One value, rendered once: the fragment `"key":value` of the text.
struct entry {
  std::string key;
  json value;
  std::string fragment;
};

using entry_ptr = std::shared_ptr<const entry>;

entry_ptr make_entry(std::string key, json value) {
  auto e = std::make_shared<entry>();
  e->fragment = json(key).dump(-1, ' ', false, json::error_handler_t::replace);
  e->fragment += ':';
  e->fragment += value.dump(-1, ' ', false, json::error_handler_t::replace);
  e->key = std::move(key);
  e->value = std::move(value);
  return e;
}

} // namespace

struct version::node {
  entry_ptr e;
  link left;
  link right;
  int height = 1;
};

namespace {

using link = version::link;
using node = version::node;

int height(const link& n) noexcept {
  return n ? n->height : 0;
}

/// Builds trees, counting the nodes it allocates.
struct builder {
  std::size_t made = 0;

  link make(entry_ptr e, link l, link r) {
    ++made;
    int h = 1 + std::max(height(l), height(r));
    return std::make_shared<const node>(node{std::move(e), std::move(l), std::move(r), h});
  }

  /// A node of `e` over `l` and `r`, whose heights differ by at most 2,
  /// rebalanced by one single or double rotation.
  link balance(const entry_ptr& e, const link& l, const link& r) {
    int hl = height(l);
    int hr = height(r);
    if (hl > hr + 1) {
      if (height(l->left) >= height(l->right))
        return make(l->e, l->left, make(e, l->right, r));
      return make(l->right->e, make(l->e, l->left, l->right->left),
                  make(e, l->right->right, r));
    }
    if (hr > hl + 1) {
      if (height(r->right) >= height(r->left))
        return make(r->e, make(e, l, r->left), r->right);
      return make(r->left->e, make(e, l, r->left->left),
                  make(r->e, r->left->right, r->right));
    }
    return make(e, l, r);
  }

  /// `n` with `e` added or in place of the entry of the same key; sets
  /// `replaced` to the entry it replaced, if any.
  link insert(const link& n, const entry_ptr& e, entry_ptr& replaced) {
    if (!n)
      return make(e, nullptr, nullptr);
    int c = e->key.compare(n->e->key);
    if (c < 0)
      return balance(n->e, insert(n->left, e, replaced), n->right);
    if (c > 0)
      return balance(n->e, n->left, insert(n->right, e, replaced));
    replaced = n->e;
    return make(e, n->left, n->right);
  }

  /// A balanced tree of entries [first, last), which are in key order.
  link build(const std::vector<entry_ptr>& entries, std::size_t first, std::size_t last) {
    if (first >= last)
      return nullptr;
    auto mid = first + (last - first) / 2;
    auto l = build(entries, first, mid);
    auto r = build(entries, mid + 1, last);
    return make(entries[mid], std::move(l), std::move(r));
  }
};

template <class F>
void in_order(const link& n, F& f) {
  // Iterative: the depth is small, but a stack of our own costs nothing.
  std::vector<const node*> stack;
  const node* cur = n.get();
  while (cur != nullptr || !stack.empty()) {
    while (cur != nullptr) {
      stack.push_back(cur);
      cur = cur->left.get();
    }
    cur = stack.back();
    stack.pop_back();
    f(*cur->e);
    cur = cur->right.get();
  }
}

} // namespace

version::ptr version::make(const std::map<std::string, json>& all) {
  std::vector<entry_ptr> entries;
  entries.reserve(all.size());
  std::size_t bytes = 0;
  for (auto& [k, v] : all) {
    entries.push_back(make_entry(k, v));
    bytes += entries.back()->fragment.size() + 1;
  }
  builder b;
  auto out = std::shared_ptr<version>(new version);
  out->root_ = b.build(entries, 0, entries.size());
  out->size_ = entries.size();
  out->bytes_ = bytes;
  out->nodes_made_ = b.made;
  out->values_rendered_ = entries.size();
  return out;
}

version::ptr version::with(const std::string& key, json value) const {
  auto e = make_entry(key, std::move(value));
  builder b;
  entry_ptr replaced;
  auto out = std::shared_ptr<version>(new version);
  out->root_ = b.insert(root_, e, replaced);
  out->size_ = size_ + (replaced ? 0 : 1);
  out->bytes_ = bytes_ + e->fragment.size() + 1 - (replaced ? replaced->fragment.size() + 1 : 0);
  out->nodes_made_ = b.made;
  out->values_rendered_ = 1;
  return out;
}

const json* version::find(std::string_view key) const {
  const node* n = root_.get();
  while (n != nullptr) {
    int c = key.compare(n->e->key);
    if (c == 0)
      return &n->e->value;
    n = c < 0 ? n->left.get() : n->right.get();
  }
  return nullptr;
}

const std::string& version::text() const {
  if (auto t = std::atomic_load(&text_))
    return *t;
  auto rendered = std::make_shared<std::string>();
  rendered->reserve(bytes_ + 2);
  *rendered += '{';
  auto append = [&](const entry& e) {
    if (rendered->size() > 1)
      *rendered += ',';
    *rendered += e.fragment;
  };
  in_order(root_, append);
  *rendered += '}';
  text_renders_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const std::string> expected;
  std::shared_ptr<const std::string> mine = std::move(rendered);
  // The first to finish wins; a loser returns the winner's text.
  if (std::atomic_compare_exchange_strong(&text_, &expected, mine))
    return *mine;
  return *expected;
}

json version::to_json() const {
  json out = json::object();
  auto add = [&](const entry& e) { out[e.key] = e.value; };
  in_order(root_, add);
  return out;
}

bool enabled(const view& v, std::string_view key, bool fallback) {
  auto current = v.load();
  if (!current)
    return fallback;
  const json* value = current->find(key);
  return value != nullptr && value->is_boolean() ? value->get<bool>() : fallback;
}

bool enabled(const std::shared_ptr<const view>& v, std::string_view key, bool fallback) {
  return v ? enabled(*v, key, fallback) : fallback;
}

} // namespace echopilot::flags
