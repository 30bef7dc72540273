#include "api/ec2/xml_writer.h"

namespace vbs::ec2 {

XmlWriter::XmlWriter(const std::string& root, bool with_namespace) {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + root;
  if (with_namespace) out_ += " xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"";
  out_ += ">";
  open_.push_back(root);
}

XmlWriter& XmlWriter::Open(const std::string& name) {
  out_ += "<" + name + ">";
  open_.push_back(name);
  return *this;
}

XmlWriter& XmlWriter::Close() {
  if (open_.empty()) return *this;
  out_ += "</" + open_.back() + ">";
  open_.pop_back();
  return *this;
}

XmlWriter& XmlWriter::Text(const std::string& name, const std::string& text) {
  out_ += "<" + name + ">" + XmlEscape(text) + "</" + name + ">";
  return *this;
}

XmlWriter& XmlWriter::Int(const std::string& name, int64_t value) {
  return Text(name, std::to_string(value));
}

XmlWriter& XmlWriter::Bool(const std::string& name, bool value) {
  return Text(name, value ? "true" : "false");
}

XmlWriter& XmlWriter::Empty(const std::string& name) {
  out_ += "<" + name + "/>";
  return *this;
}

std::string XmlWriter::Finish() {
  while (!open_.empty()) Close();
  out_ += "\n";
  return out_;
}

}  // namespace vbs::ec2
