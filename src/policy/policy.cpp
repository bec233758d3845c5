#include "policy/policy.hpp"

namespace uipsec {

std::string_view to_string(PolicyDirection direction) {
  switch (direction) {
    case PolicyDirection::kOut:
      return "out";
    case PolicyDirection::kIn:
      return "in";
    case PolicyDirection::kFwd:
      return "fwd";
  }
  return "?";
}

std::string_view to_string(PolicyAction action) {
  switch (action) {
    case PolicyAction::kProtect:
      return "protect";
    case PolicyAction::kBypass:
      return "bypass";
    case PolicyAction::kDiscard:
      return "discard";
  }
  return "?";
}

std::string PolicyId::to_string() const {
  return selector.to_string() + " dir " + std::string(uipsec::to_string(direction));
}

Result<void> PolicyConfig::validate() const {
  UIPSEC_TRY(selector.validate());
  if (action == PolicyAction::kProtect) {
    if (!tmpl) return Error("tmpl: a PROTECT policy (action allow with IPsec) needs a template");
    if (tmpl->mode == TemplateMode::kTunnel) {
      if (tmpl->source.family() != tmpl->destination.family()) {
        return Error("tmpl: tunnel source and destination are of different address families");
      }
      if (tmpl->source.is_unspecified() || tmpl->destination.is_unspecified()) {
        return Error("tmpl: a tunnel-mode template needs src and dst addresses");
      }
    }
  } else if (tmpl) {
    return Error(std::string("tmpl: a ") + std::string(to_string(action)) +
                 " policy takes no template");
  }
  return {};
}

}  // namespace uipsec
