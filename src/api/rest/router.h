// Router: maps METHOD + path pattern ("/v1/volumes/{id}") to a handler. Unknown paths get
// 404 NotFound, known paths with another method 405 MethodNotAllowed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http_server.h"

namespace vbs {

using PathParams = std::map<std::string, std::string>;

template <typename Context>
class Router {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&, const PathParams&, Context&)>;

  void Add(const std::string& method, const std::string& pattern, Handler h) {
    routes_.push_back({method, Split(pattern), std::move(h), method + " " + pattern});
  }

  // Finds the route; sets *path_known when some route matches the path with another method,
  // and *name (if given) to the route's "METHOD /pattern/{param}".
  const Handler* Find(const std::string& method, const std::string& path, PathParams* params,
                      bool* path_known, std::string* name = nullptr) const {
    auto parts = Split(path);
    *path_known = false;
    for (const auto& r : routes_) {
      PathParams p;
      if (!Match(r.parts, parts, &p)) continue;
      *path_known = true;
      if (r.method == method) {
        *params = std::move(p);
        if (name != nullptr) *name = r.name;
        return &r.handler;
      }
    }
    return nullptr;
  }

 private:
  struct Route {
    std::string method;
    std::vector<std::string> parts;
    Handler handler;
    std::string name;  // "METHOD /pattern"
  };
  static std::vector<std::string> Split(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      if (j > i) out.push_back(path.substr(i, j - i));
      i = j + 1;
    }
    return out;
  }
  static bool Match(const std::vector<std::string>& pattern, const std::vector<std::string>& parts,
                    PathParams* params) {
    if (pattern.size() != parts.size()) return false;
    for (size_t i = 0; i < parts.size(); ++i) {
      const auto& pp = pattern[i];
      if (pp.size() > 2 && pp.front() == '{' && pp.back() == '}') {
        (*params)[pp.substr(1, pp.size() - 2)] = parts[i];
      } else if (pp != parts[i]) {
        return false;
      }
    }
    return true;
  }
  std::vector<Route> routes_;
};

}  // namespace vbs
