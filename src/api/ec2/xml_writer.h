// XmlWriter: the XML of EC2 Query responses (reference/ec2-ebs-api.md §3, §6), nothing more:
// nested elements with escaped text, no attributes except the root's namespace.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/xml_escape.h"

namespace vbs::ec2 {

class XmlWriter {
 public:
  // <?xml …?><{root} xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  explicit XmlWriter(const std::string& root, bool with_namespace = true);

  XmlWriter& Open(const std::string& name);
  XmlWriter& Close();  // the innermost open element
  XmlWriter& Text(const std::string& name, const std::string& text);
  XmlWriter& Int(const std::string& name, int64_t value);
  XmlWriter& Bool(const std::string& name, bool value);
  XmlWriter& Empty(const std::string& name);  // <name/>
  // Closes every open element and returns the document.
  std::string Finish();

 private:
  std::string out_;
  std::vector<std::string> open_;
};

}  // namespace vbs::ec2
