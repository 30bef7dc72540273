// XmlEscape: text made safe for XML character data and attribute values in either quotes
// (& < > " ' become entities). Shared by the EC2 face's answers and libvirt's device XML.
#pragma once

#include <string>
#include <string_view>

namespace vbs {

std::string XmlEscape(std::string_view text);

}  // namespace vbs
